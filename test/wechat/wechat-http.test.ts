/**
 * The WeChat client's HTTP transport (libs/wechat/wechat-http.ts) against real local servers: it reuses one
 * connection for calls in a row, sends a request again once when a reused connection is reset, settles when
 * a connection drops mid-answer, and stops at its deadline.
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpTransport } from '../../libs/wechat/wechat-http.js';
import { serve, type Served } from '../support/http.js';

let server: Served | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const deadline = (ms = 10_000): AbortSignal => AbortSignal.timeout(ms);

describe('the WeChat HTTP transport', () => {
  it('sends method, headers and body, reads the answer, and reuses one connection for calls in a row', async () => {
    const sockets = new Set<Socket>();
    const seen: string[] = [];
    server = await serve((req, res) => {
      sockets.add(req.socket);
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${req.headers['content-type'] ?? '-'} ${req.headers['content-length'] ?? '-'} ${body}`);
        res.end(JSON.stringify({ errcode: 0, echo: '微信' }));
      });
    });
    const transport = createHttpTransport();
    const body = JSON.stringify({ scene: '场景' });
    for (let i = 0; i < 5; i++) {
      const answer = await transport(`${server.url}/cgi-bin/qrcode/create?i=${i}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: deadline(),
      });
      expect(answer).toEqual({ status: 200, text: JSON.stringify({ errcode: 0, echo: '微信' }) });
    }
    expect(await transport(`${server.url}/cgi-bin/user/info`, { method: 'GET', signal: deadline() })).toMatchObject({ status: 200 });
    expect(seen[0]).toBe(`POST /cgi-bin/qrcode/create?i=0 application/json ${Buffer.byteLength(body)} ${body}`);
    expect(seen[5]).toBe('GET /cgi-bin/user/info - - ');
    expect(sockets.size).toBe(1);
  });

  it('sends a request again, once, on a new connection when the reused one is reset', async () => {
    const requestsPerSocket = new Map<Socket, number>();
    let resets = 0;
    server = await serve((req, res) => {
      const count = (requestsPerSocket.get(req.socket) ?? 0) + 1;
      requestsPerSocket.set(req.socket, count);
      // The second request on a connection finds it gone, as when the server closed it while idle.
      if (count > 1) {
        resets += 1;
        req.socket.destroy();
        return;
      }
      res.end('{"errcode":0}');
    });
    const transport = createHttpTransport();
    for (let i = 0; i < 3; i++) {
      expect((await transport(server.url, { method: 'GET', signal: deadline() })).text).toBe('{"errcode":0}');
    }
    expect(resets).toBe(2);
    expect(requestsPerSocket.size).toBe(3);
  });

  it('fails, rather than waiting, when the connection drops in the middle of the answer', async () => {
    server = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"errcode":');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const transport = createHttpTransport();
    await expect(transport(server.url, { method: 'GET', signal: deadline() })).rejects.toThrow();
  });

  it('stops at its deadline when the server never answers', async () => {
    server = await serve(() => {
      // Never answers; `close` drops the connection.
    });
    const transport = createHttpTransport();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(transport(server.url, { method: 'GET', signal: controller.signal })).rejects.toThrow();
    expect(controller.signal.aborted).toBe(true);
  });
});
