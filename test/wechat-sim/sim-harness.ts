/**
 * Serving the simulator and a stand-in webhook on 127.0.0.1 for the WeChat tests. Every server started here
 * is closed by the returned `close`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createWechatSim, type WechatSim, type WechatSimOptions } from '../../apps/wechat-sim/index.js';
import { AES_KEY, APP_ID, APP_SECRET, TOKEN } from '../support/fixtures.js';
import { serve, type Served } from '../support/http.js';

/** The test account (fixtures.ts) in the simulator's option names. */
export const SIM_ACCOUNT = { appId: APP_ID, appSecret: APP_SECRET, token: TOKEN, encodingAesKey: AES_KEY } as const;

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

export type WebhookAnswer = (
  push: ReceivedPush,
  index: number,
) => Promise<{ status?: number; body: string }> | { status?: number; body: string };

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
