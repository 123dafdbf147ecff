/**
 * The GET handshake WeChat sends when the server URL is saved (WECHAT.md §4.2), and the operational probes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createWebhook } from '../../apps/webhook/index.js';
import { createRedisEngine } from '../../libs/engine/index.js';
import { serveMetrics } from '../../libs/runtime/index.js';
import { pushSignature } from '../../libs/wechat/index.js';
import { freePort } from '../support/app-process.js';
import { TOKEN } from '../support/fixtures.js';
import { serve } from '../support/http.js';
import { outcomeCount, scanEvent, startWebhook, type Harness } from '../support/webhook-harness.js';

function handshakeQuery(echostr: string, token = TOKEN, timestamp = String(Math.floor(Date.now() / 1000))): string {
  const nonce = '842155';
  return new URLSearchParams({ signature: pushSignature(token, timestamp, nonce), timestamp, nonce, echostr }).toString();
}

describe('handshake', () => {
  let hook: Harness;
  beforeEach(async () => {
    hook = await startWebhook();
  });
  afterEach(async () => {
    await hook.close();
  });

  it('echoes echostr as text/plain with nosniff when the signature is valid', async () => {
    const res = await hook.get(`/wechat?${handshakeQuery('5837397520665436492')}`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('5837397520665436492');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('never serves echostr as HTML', async () => {
    const res = await hook.get(`/wechat?${handshakeQuery('<script>alert(1)</script>')}`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  });

  it('refuses a bad or missing signature with 401 and a clear message', async () => {
    const bad = await hook.get(`/wechat?${handshakeQuery('123', 'wrong-token')}`);
    const missing = await hook.get('/wechat?echostr=123');
    expect(bad.status).toBe(401);
    expect(bad.body).toBe('invalid signature');
    expect(missing.status).toBe(401);
    expect(missing.body).toMatch(/signature, timestamp and nonce are required/);
    expect(await outcomeCount(hook.metrics, 'bad_signature')).toBe(2);
  });

  it('refuses a stale handshake and one without echostr', async () => {
    const stale = await hook.get(`/wechat?${handshakeQuery('123', TOKEN, '1718000000')}`);
    const noEcho = await hook.get(`/wechat?${handshakeQuery('')}`);
    expect(stale.status).toBe(401);
    expect(noEcho.status).toBe(400);
  });
});

describe('probes', () => {
  let hook: Harness;
  beforeEach(async () => {
    hook = await startWebhook();
  });
  afterEach(async () => {
    await hook.close();
  });

  it('/healthz answers ok', async () => {
    const res = await hook.get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
  });

  it('/readyz answers 200 while the engine answers', async () => {
    const res = await hook.get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toBe('ready');
  });

  it('/readyz answers 503 when the engine cannot reach its store', async () => {
    // A real Redis engine whose server is gone: with the offline queue off, PING fails at once.
    const down = { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null };
    const client = new Redis(await freePort(), '127.0.0.1', down);
    const subscriber = new Redis(await freePort(), '127.0.0.1', down);
    const engine = createRedisEngine({ client, subscriber });
    const server = await serve(
      createWebhook({ engine, config: hook.settings, logger: pino({ level: 'silent' }), metrics: hook.metrics }).callback(),
    );
    try {
      const res = await fetch(`${server.url}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.text()).toBe('engine unavailable');
    } finally {
      await server.close();
      await engine.close();
      client.disconnect();
      subscriber.disconnect();
    }
  });

  it('its metrics listener serves the registry with push outcomes; the webhook app itself has no /metrics', async () => {
    const ticket = await hook.createTicket();
    await hook.push(scanEvent(ticket, { openid: 'o_metrics' }));
    const listener = await serveMetrics(hook.metrics.registry, '127.0.0.1', 0);
    try {
      const res = await fetch(`${listener.url}/metrics`);
      const body = await res.text();
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(hook.metrics.registry.contentType);
      expect(body).toContain('qrgate_webhook_requests_total{outcome="ok"} 1');
      expect(body).toContain('qrgate_tickets_confirmed_total 1');
    } finally {
      await listener.close();
    }
    expect((await hook.get('/metrics')).status).toBe(404);
  });

  it('answers 404 elsewhere', async () => {
    expect((await hook.get('/nope')).status).toBe(404);
  });
});
