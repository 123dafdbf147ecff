/**
 * The shared HTTP edge on a bare Koa app: the error path shows a message only when the error exposes it, the
 * request id policy, the probes, and the body readers' limit and read timeout.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorPath, httpError, mountProbes, readForm, readJson, requestLog } from '../../libs/http/index.js';
import { createLogger } from '../../libs/observability/index.js';

const logger = createLogger({ app: 'test', level: 'silent' });
let server: Server;
let base: string;
let storeUp = true;

beforeAll(async () => {
  const app = new Koa();
  const router = new Router();
  mountProbes(router, {
    ping: async () => {
      if (!storeUp) throw new Error('down');
    },
    readyTimeoutMs: 200,
  });
  router.get('/exposed', () => {
    throw httpError(409, 'already there', { code: 'SOMETHING' });
  });
  router.get('/hidden', () => {
    throw new Error('secret detail');
  });
  router.get('/hidden-5xx', () => {
    throw httpError(502, 'upstream said something private');
  });
  router.post('/json', async (ctx) => {
    ctx.body = { got: await readJson(ctx, { limit: 64, timeoutMs: 300 }) };
  });
  router.post('/form', async (ctx) => {
    ctx.body = { got: await readForm(ctx, { limit: 64 }) };
  });
  app.use(requestLog({ logger }));
  app.use(errorPath({ render: 'json', logger }));
  app.use(router.routes());
  server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('error path', () => {
  it('shows an exposed error with its code, and hides anything else behind a bare 500', async () => {
    const exposed = await fetch(`${base}/exposed`);
    expect(exposed.status).toBe(409);
    expect(await exposed.json()).toEqual({ error: 'already there', code: 'SOMETHING' });
    const hidden = await fetch(`${base}/hidden`);
    expect(hidden.status).toBe(500);
    expect(await hidden.json()).toEqual({ error: 'internal error' });
    const upstream = await fetch(`${base}/hidden-5xx`);
    expect(upstream.status).toBe(502);
    expect(await upstream.json()).toEqual({ error: 'internal error' });
  });
});

describe('request ids', () => {
  it('keeps a well-formed X-Request-Id and replaces anything else', async () => {
    expect((await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'abc-123' } })).headers.get('x-request-id')).toBe('abc-123');
    const replaced = (await fetch(`${base}/healthz`, { headers: { 'x-request-id': 'no spaces <allowed>' } })).headers.get('x-request-id');
    expect(replaced).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('probes', () => {
  it('answers readyz 503 while the store is down', async () => {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok');
    expect(await (await fetch(`${base}/readyz`)).text()).toBe('ready');
    storeUp = false;
    try {
      const down = await fetch(`${base}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.text()).toBe('engine unavailable');
    } finally {
      storeUp = true;
    }
  });
});

describe('body readers', () => {
  it('refuses a body over the limit with 413, and a repeated form field as not a form', async () => {
    const big = await fetch(`${base}/json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ a: 'x'.repeat(100) }),
    });
    expect(big.status).toBe(413);
    const form = await fetch(`${base}/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1&a=2',
    });
    expect(await form.json()).toEqual({ got: null });
  });

  it('answers 408 to a body that never finishes', async () => {
    const { port } = server.address() as AddressInfo;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port,
        path: '/json',
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': '40' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on('error', reject);
      // Ten of the forty announced bytes, then nothing.
      req.write('{"a":"123');
    });
    expect(status).toBe(408);
  });
});

describe('request log', () => {
  /** One request through requestLog at `level`, with an app's `describe`: the lines written, and its calls. */
  async function logOne(level: string): Promise<{ lines: Array<Record<string, unknown>>; described: number; requestId: string | null }> {
    const lines: Array<Record<string, unknown>> = [];
    const sink = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
    let described = 0;
    const app = new Koa();
    app.use(
      requestLog({
        logger: createLogger({ app: 'test', level, destination: sink }),
        describe: () => {
          described += 1;
          return { message: 'own line', fields: { outcome: 'ok' } };
        },
      }),
    );
    app.use((ctx) => {
      ctx.body = 'x';
    });
    const listening = createServer(app.callback());
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(listening.address() as AddressInfo).port}/thing?signature=secret`);
      await res.text();
      return { lines, described, requestId: res.headers.get('x-request-id') };
    } finally {
      listening.closeAllConnections();
      await new Promise<void>((resolve) => listening.close(() => resolve()));
    }
  }

  it("writes the app's own line at info, without the query string", async () => {
    const { lines, described, requestId } = await logOne('info');
    expect(described).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'own line', outcome: 'ok', path: '/thing', status: 200, requestId });
    expect(JSON.stringify(lines[0])).not.toContain('secret');
  });

  it('builds no line at all when info is off, and still sends the request id', async () => {
    const { lines, described, requestId } = await logOne('warn');
    expect(lines).toEqual([]);
    expect(described).toBe(0);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
