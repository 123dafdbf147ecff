/**
 * Serving the simulator and a stand-in webhook on 127.0.0.1 for the WeChat tests. Every server started here
 * is closed by the returned `close`.
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createWechatSim, type WechatSim, type WechatSimOptions } from '../../apps/wechat-sim/index.js';

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Listen on a free port of 127.0.0.1. */
export async function serve(handler: RequestListener): Promise<Served> {
  const server = createServer(handler);
  // Tests open hundreds of connections at once; Node's default backlog (511) resets some on a loaded machine.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets and requests the simulator abandoned must not hold the server open.
        server.closeAllConnections();
      }),
  };
}

export const SIM_ACCOUNT = {
  appId: 'wxsimtest0000001',
  appSecret: 'sim-test-secret-0123456789abcdef',
  token: 'sim-test-token',
  encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
} as const;

export interface ServedSim extends Served {
  sim: WechatSim;
}

/** The simulator with the test account; pass `encodingAesKey` explicitly for safe mode. */
export async function serveSim(options: Partial<WechatSimOptions> & { webhookUrl?: string } = {}): Promise<ServedSim> {
  const sim = createWechatSim({
    appId: SIM_ACCOUNT.appId,
    appSecret: SIM_ACCOUNT.appSecret,
    token: SIM_ACCOUNT.token,
    webhookUrl: 'http://127.0.0.1:9/wechat',
    ...options,
  });
  const served = await serve(sim.app.callback());
  return {
    sim,
    url: served.url,
    async close() {
      await sim.close();
      await served.close();
    },
  };
}

export interface ReceivedPush {
  method: string;
  /** Query string without `?`. */
  query: string;
  body: string;
  contentType: string | undefined;
}

export type WebhookAnswer = (push: ReceivedPush, index: number) => Promise<{ status?: number; body: string }> | { status?: number; body: string };

/** A webhook that records every request and answers with `answer` (default: `success`). */
export async function serveWebhook(answer: WebhookAnswer = () => ({ body: 'success' })): Promise<Served & { received: ReceivedPush[] }> {
  const received: ReceivedPush[] = [];
  const served = await serve((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const push: ReceivedPush = {
        method: req.method ?? '',
        query: (req.url ?? '').split('?')[1] ?? '',
        body: Buffer.concat(chunks).toString('utf8'),
        contentType: req.headers['content-type'],
      };
      received.push(push);
      void Promise.resolve(answer(push, received.length - 1)).then((reply) => {
        if (res.destroyed) return;
        res.writeHead(reply.status ?? 200, { 'content-type': 'text/xml' });
        res.end(reply.body);
      });
    });
  });
  return { ...served, received };
}

/** A pause whose timer does not keep the test process alive. */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** An answer that never comes; the harness' `close` drops the connection. */
export const never = (): Promise<never> => new Promise(() => {});

