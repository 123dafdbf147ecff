/**
 * The WeChat API client against the simulator over real HTTP, with the memory engine's key-value store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryEngine, type Engine, type KeyValueStore } from '../../libs/engine/index.js';
import { createMetrics, type Metrics } from '../../libs/observability/index.js';
import { createWechatClient, WechatApiError, type WechatClient, type WechatClientOptions } from '../../libs/wechat/index.js';
import { decodeQrPng } from '../support/qr-decode.js';
import { serve } from '../support/http.js';
import { SIM_ACCOUNT, serveSim, type ServedSim } from '../wechat-sim/sim-harness.js';

let sim: ServedSim;
let engine: Engine;
let metrics: Metrics;

beforeEach(async () => {
  sim = await serveSim();
  engine = createMemoryEngine();
  metrics = createMetrics({ defaultMetrics: false });
});

afterEach(async () => {
  await sim.close();
  await engine.close();
});

function client(overrides: Partial<WechatClientOptions> = {}): WechatClient {
  return createWechatClient({
    apiBase: sim.url,
    appId: SIM_ACCOUNT.appId,
    appSecret: SIM_ACCOUNT.appSecret,
    kv: engine.kv,
    metrics,
    // Hundreds of requests queue in this one process; a generous deadline keeps a loaded machine from
    // turning the queueing into timeouts. No test here is about latency.
    timeoutMs: 60_000,
    ...overrides,
  });
}

async function callsCounted(endpoint: string, result: string): Promise<number> {
  const metric = await metrics.wechatApiCalls.get();
  return metric.values.find((v) => v.labels.endpoint === endpoint && v.labels.result === result)?.value ?? 0;
}

async function rejection(promise: Promise<unknown>): Promise<WechatApiError> {
  const error: unknown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WechatApiError);
  return error as WechatApiError;
}

describe('access token', () => {
  it('is fetched once, cached in kv and reused', async () => {
    const wechat = client();
    const first = await wechat.getAccessToken();
    const second = await wechat.getAccessToken();
    expect(second).toBe(first);
    expect(sim.sim.stats().stableTokenCalls).toBe(1);
    const cached = JSON.parse((await engine.kv.get(`wechat:token:${SIM_ACCOUNT.appId}`)) ?? 'null') as { token: string; expiresAt: number };
    expect(cached.token).toBe(first);
    expect(cached.expiresAt).toBeGreaterThan(Date.now() + 7_000_000);
    // A second instance (another process) reads the shared cache instead of calling WeChat.
    expect(await client().getAccessToken()).toBe(first);
    expect(sim.sim.stats().stableTokenCalls).toBe(1);
    expect(await callsCounted('/cgi-bin/stable_token', 'ok')).toBe(1);
  });

  it('is fetched exactly once when 3 instances sharing one kv create 200 QR codes each at once', async () => {
    const clients = [client(), client(), client()];
    const codes = await Promise.all(
      clients.flatMap((wechat, c) => Array.from({ length: 200 }, (_, i) => wechat.createQrCode(`lg_${c}_${i}`, 120))),
    );
    expect(codes).toHaveLength(600);
    expect(new Set(codes.map((code) => code.ticket)).size).toBe(600);
    expect(sim.sim.stats()).toMatchObject({ stableTokenCalls: 1, tokenCalls: 0, qrcodeCreateCalls: 600 });
  });

  it('reads the shared cache once per reuse period, and drops its own copy as soon as WeChat rejects it', async () => {
    let reads = 0;
    const kv: KeyValueStore = {
      ...engine.kv,
      get: (key) => {
        if (key === `wechat:token:${SIM_ACCOUNT.appId}`) reads += 1;
        return engine.kv.get(key);
      },
    };
    const wechat = client({ kv, tokenReuseMs: 60_000 });
    const first = await wechat.getAccessToken();
    const readsToFetch = reads;
    for (let i = 0; i < 20; i++) await wechat.createQrCode(`lg_reuse_${i}`, 60);
    expect(reads).toBe(readsToFetch);
    // Another process sees the token fail and refreshes: this one's copy fails once, and it reads the new one.
    sim.sim.revokeTokens();
    const other = client();
    await other.createQrCode('lg_other', 60);
    const renewed = await other.getAccessToken();
    expect(renewed).not.toBe(first);
    await wechat.createQrCode('lg_after', 60);
    expect(await wechat.getAccessToken()).toBe(renewed);
    expect(sim.sim.stats().stableTokenCalls).toBe(2);
    expect(await callsCounted('/cgi-bin/qrcode/create', '40001')).toBe(2);
  });

  it('keeps using a token in its last minutes when WeChat cannot renew it, and not past that', async () => {
    // This test rewrites the shared cache behind the client's back, so the client reads it on every call.
    const wechat = client({ tokenReuseMs: 0 });
    const token = await wechat.getAccessToken();
    const key = `wechat:token:${SIM_ACCOUNT.appId}`;
    await engine.kv.set(key, JSON.stringify({ token, expiresAt: Date.now() + 120_000 }), 120_000);
    sim.sim.failNext('/cgi-bin/stable_token', 45009);
    expect(await wechat.getAccessToken()).toBe(token);
    await engine.kv.set(key, JSON.stringify({ token, expiresAt: Date.now() + 5_000 }), 5_000);
    sim.sim.failNext('/cgi-bin/stable_token', 45009);
    expect((await rejection(wechat.getAccessToken())).errcode).toBe(45009);
    expect(sim.sim.stats().stableTokenCalls).toBe(3);
  });

  it('reports a wrong secret with the setting to fix, without echoing the secret', async () => {
    const error = await rejection(client({ appSecret: 'not-the-secret' }).getAccessToken());
    expect(error).toMatchObject({ errcode: 40125, endpoint: '/cgi-bin/stable_token' });
    expect(error.message).toContain('WECHAT_SECRET');
    expect(error.message).not.toContain('not-the-secret');
    expect(sim.sim.stats().stableTokenCalls).toBe(1);
    expect(await callsCounted('/cgi-bin/stable_token', '40125')).toBe(1);
  });

  it('reports an unreachable API as errcode -2', async () => {
    const closed = await serve((_req, res) => res.end());
    await closed.close();
    const error = await rejection(client({ apiBase: closed.url }).getAccessToken());
    expect(error.errcode).toBe(-2);
    expect(error.message).toMatch(/unreachable/);
  });

  it('reports an API that does not answer in time as errcode -2', async () => {
    const silent = await serve(() => {
      // Never answers; `close` drops the connection.
    });
    try {
      const error = await rejection(client({ apiBase: silent.url, timeoutMs: 200 }).getAccessToken());
      expect(error.errcode).toBe(-2);
      expect(error.message).toContain('no answer within 200 ms');
    } finally {
      await silent.close();
    }
  });
});

describe('createQrCode', () => {
  it('returns the url and an image URL whose PNG encodes that url', async () => {
    const code = await client().createQrCode('lg_4Qm9T2xZk7VfR1pD', 300);
    expect(code.expireSeconds).toBe(300);
    expect(code.url).toMatch(/^http:\/\/weixin\.qq\.com\/q\/\w+$/);
    const image = await fetch(code.imageUrl);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(decodeQrPng(Buffer.from(await image.arrayBuffer()))).toBe(code.url);
  });

  it('encodes the ticket exactly once in the image URL', async () => {
    const code = await client().createQrCode('lg_once', 60);
    // The simulator's tickets always carry characters that need encoding, so a missing encoding would show.
    expect(code.ticket).toMatch(/[+/=]/);
    expect(code.imageUrl).toBe(`${sim.url}/cgi-bin/showqrcode?ticket=${encodeURIComponent(code.ticket)}`);
    expect(new URL(code.imageUrl).searchParams.get('ticket')).toBe(code.ticket);
    const doubled = `${sim.url}/cgi-bin/showqrcode?ticket=${encodeURIComponent(encodeURIComponent(code.ticket))}`;
    expect((await fetch(doubled)).status).toBe(404);
  });

  it('points images at mp.weixin.qq.com when the API base is the real one', async () => {
    // The requests to api.weixin.qq.com are routed to the simulator (like a hosts-file entry), so the
    // default image host is checked without reaching WeChat.
    const viaSimulator: typeof fetch = (input, init) => fetch(String(input).replace('https://api.weixin.qq.com', sim.url), init);
    const code = await client({ apiBase: 'https://api.weixin.qq.com', fetch: viaSimulator }).createQrCode('lg_host', 60);
    expect(code.imageUrl).toBe(`https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=${encodeURIComponent(code.ticket)}`);
  });

  it('refreshes once and succeeds when the cached token was invalidated', async () => {
    const wechat = client();
    const before = await wechat.getAccessToken();
    sim.sim.revokeTokens();
    const code = await wechat.createQrCode('lg_after_revoke', 60);
    expect(code.ticket).not.toBe('');
    expect(await wechat.getAccessToken()).not.toBe(before);
    expect(sim.sim.stats()).toMatchObject({ stableTokenCalls: 2, qrcodeCreateCalls: 2 });
    expect(await callsCounted('/cgi-bin/qrcode/create', '40001')).toBe(1);
    expect(await callsCounted('/cgi-bin/qrcode/create', 'ok')).toBe(1);
  });

  it('refreshes only once when every instance sees the token fail at the same moment', async () => {
    const clients = [client(), client(), client()];
    await clients[0]!.getAccessToken();
    sim.sim.revokeTokens();
    await Promise.all(clients.flatMap((wechat, c) => Array.from({ length: 50 }, (_, i) => wechat.createQrCode(`lg_r${c}_${i}`, 60))));
    expect(sim.sim.stats().stableTokenCalls).toBe(2);
  });

  it('gives up after one refresh and one retry when the token keeps failing', async () => {
    const wechat = client();
    await wechat.getAccessToken();
    sim.sim.failNext('/cgi-bin/qrcode/create', 40001, 10);
    const error = await rejection(wechat.createQrCode('lg_loop', 60));
    expect(error.errcode).toBe(40001);
    expect(sim.sim.stats()).toMatchObject({ stableTokenCalls: 2, qrcodeCreateCalls: 2 });
  });

  it('fails at once on a quota error with an actionable message', async () => {
    const wechat = client();
    sim.sim.failNext('/cgi-bin/qrcode/create', 45009, 10);
    const error = await rejection(wechat.createQrCode('lg_quota', 60));
    expect(error).toMatchObject({ errcode: 45009, endpoint: '/cgi-bin/qrcode/create' });
    expect(error.message).toMatch(/quota/);
    expect(sim.sim.stats()).toMatchObject({ stableTokenCalls: 1, qrcodeCreateCalls: 1 });
    expect(await callsCounted('/cgi-bin/qrcode/create', '45009')).toBe(1);
  });

  it.each([
    [40164, /whitelist/],
    [48001, /verified service account/],
  ])('fails at once on %i with a message that says what to do', async (errcode, hint) => {
    sim.sim.failNext('/cgi-bin/qrcode/create', errcode, 10);
    const error = await rejection(client().createQrCode('lg_config', 60));
    expect(error.errcode).toBe(errcode);
    expect(error.message).toMatch(hint);
    expect(sim.sim.stats().qrcodeCreateCalls).toBe(1);
  });

  it('retries once when WeChat is busy (-1)', async () => {
    sim.sim.failNext('/cgi-bin/qrcode/create', -1);
    await client().createQrCode('lg_busy', 60);
    expect(sim.sim.stats().qrcodeCreateCalls).toBe(2);
    sim.sim.failNext('/cgi-bin/qrcode/create', -1, 5);
    expect((await rejection(client().createQrCode('lg_busy2', 60))).errcode).toBe(-1);
    expect(sim.sim.stats().qrcodeCreateCalls).toBe(4);
  });
});

describe('getUserInfo', () => {
  it('maps the post-2021 answer: no nickname or avatar, subscribe as a boolean', async () => {
    const wechat = client();
    const code = await wechat.createQrCode('lg_user', 60);
    // An account not bound to an Open Platform account: user/info has no unionid (the simulator's NoUnion mark).
    const openid = 'oUserInfoTestNoUnion00000001';
    await sim.sim.scan({ qrTicket: code.ticket, openid });
    expect(await wechat.getUserInfo(openid)).toEqual({
      openid,
      unionid: undefined,
      nickname: undefined,
      avatar: undefined,
      subscribe: true,
    });
    await sim.sim.unfollow(openid);
    expect((await wechat.getUserInfo(openid)).subscribe).toBe(false);
    expect((await rejection(wechat.getUserInfo('oNobody'))).errcode).toBe(40003);
  });
});
