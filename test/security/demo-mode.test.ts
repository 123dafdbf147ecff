/**
 * Issue 16 item 4: demo mode is explicit and can never touch production. `npm start` without WECHAT_APPID
 * runs the simulator, whose Token and AppID are published; a demo sharing production's Redis let anyone forge
 * a scan and get a production session. Here: the demo refuses every production setting (and a blank
 * WECHAT_APPID) naming it, before it listens; it stays on 127.0.0.1 unless HOST is set and says so loudly
 * when it is not; `/sim/api/*` takes only JSON from its own page; the simulator's state is bounded; and a
 * scan moves a ticket only with the code's own QR ticket, received by the AppID that created it.
 */
import { createConnection } from 'node:net';
import Koa from 'koa';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_WECHAT } from '../../apps/standalone/standalone.js';
import { createWebhook } from '../../apps/webhook/index.js';
import { MAX_SIM_OAUTH_GRANTS, createOauthRouter } from '../../apps/wechat-sim/sim-oauth.js';
import { MAX_SIM_CODES, createQrRegistry } from '../../apps/wechat-sim/sim-qrcodes.js';
import { DEMO_USERS, MAX_SIM_USERS, createSimUsers } from '../../apps/wechat-sim/sim-users.js';
import { createLoginService } from '../../libs/login/index.js';
import { createMetrics } from '../../libs/observability/index.js';
import { newSecret, newTicket, newTicketId } from '../../libs/ticket/index.js';
import { buildEventXml, exchangeOauthCode, newOauthState, oauthAuthorizeUrl, readReply, signPush } from '../../libs/wechat/index.js';
import { freePort, startApp } from '../support/app-process.js';
import { APP_ID, APP_SECRET, OA_ID } from '../support/fixtures.js';
import { fetchText, serve } from '../support/http.js';
import type { LoginBrowser } from '../support/login-browser.js';
import { startTestStandalone } from '../support/standalone.js';
import { startWebhook, type Harness } from '../support/webhook-harness.js';
import { expectStillPending, openBrowser, snapshot } from './security-harness.js';

/** Whether anything accepts a TCP connection on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Start `npm start`'s entry point with `env`; the error it stops with, or null when it started. */
async function refusalOf(env: Record<string, string>): Promise<{ message: string; port: number } | null> {
  const port = await freePort();
  const started = await startApp('standalone', { ...env, PORT: String(port) }).catch((error: Error) => error);
  if (!(started instanceof Error)) {
    await started.stop();
    return null;
  }
  return { message: started.message, port };
}

describe('the demo refuses every production setting, naming it (npm start)', () => {
  const PRODUCTION = {
    REDIS_URL: 'redis://127.0.0.1:1',
    REDIS_CLUSTER_NODES: '127.0.0.1:1',
    SESSION_SIGNING_KEY: 'not-even-a-pem',
    WECHAT_SECRET: 'a-production-secret',
    WECHAT_TOKEN: 'a-production-token',
  };

  it.each(Object.entries(PRODUCTION))('%s', async (name, value) => {
    const refused = await refusalOf({ [name]: value });
    expect(refused).not.toBeNull();
    expect(refused!.message).toMatch(/exited with 1/);
    expect(refused!.message).toContain(`qrgate: invalid configuration:\n  - ${name}: is a production setting, and WECHAT_APPID is unset`);
    // Refused before listening, and no secret echoed back.
    expect(await listening(refused!.port)).toBe(false);
    expect(refused!.message).not.toContain(value);
  });

  it('all of them at once: each is named', async () => {
    const refused = await refusalOf(PRODUCTION);
    for (const name of Object.keys(PRODUCTION)) expect(refused!.message).toContain(`  - ${name}: is a production setting`);
  });

  it('a WECHAT_APPID set but blank is refused, not read as the demo', async () => {
    const refused = await refusalOf({ WECHAT_APPID: '   ' });
    expect(refused!.message).toContain('  - WECHAT_APPID: set but blank.');
    expect(await listening(refused!.port)).toBe(false);
  });

  it('is loud when HOST makes it reachable from the network: console and page', async () => {
    const app = await startApp('standalone', { HOST: '0.0.0.0', LOGIN_CONFIRMATION: 'scan' });
    try {
      expect(app.output()).toContain('WARNING: DEMO MODE IS REACHABLE FROM THE NETWORK');
      const page = await fetchText(`${app.url}/`);
      expect(page.body).toContain('id="demo-exposed"');
      expect(page.body).toContain('reachable from the network');
      expect((await fetchText(`${app.url}/sim`)).body).toContain('id="demo-exposed"');
    } finally {
      await app.stop();
    }
  });
});

describe('the demo stays on this machine unless HOST is set', () => {
  let app: Standalone | undefined;
  afterAll(async () => {
    await app?.close();
  });

  it('listens on 127.0.0.1 with HOST unset, and says nothing alarming', async () => {
    app = await startTestStandalone({ HOST: '', LOGIN_CONFIRMATION: 'scan' });
    expect((app.server.address() as { address: string }).address).toBe('127.0.0.1');
    expect(app.demoExposed).toBe(false);
    expect((await fetchText(`${app.url}/`)).body).not.toContain('id="demo-exposed"');
    expect((await fetchText(`${app.url}/sim`)).body).not.toContain('id="demo-exposed"');
  });
});

describe('/sim/api answers only JSON from its own page', () => {
  let app: Standalone;
  const browsers: LoginBrowser[] = [];
  beforeAll(async () => {
    app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan' });
  });
  afterAll(async () => {
    for (const b of browsers) b.close();
    await app.close();
  });

  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetchText(`${app.url}${path}`, { method: 'POST', body, headers });

  it.each([
    ['a form-encoded body', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'expected Content-Type: application/json'],
    ['text/plain (what a no-preflight fetch sends)', { 'content-type': 'text/plain' }, 415, 'expected Content-Type: application/json'],
    [
      'JSON from another Origin',
      { 'content-type': 'application/json', origin: 'http://evil.example' },
      403,
      'cross-origin request refused: /sim/api accepts requests from the simulator page only',
    ],
    [
      'JSON marked cross-site by the browser',
      { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' },
      403,
      'cross-site request refused: /sim/api accepts requests from the simulator page only',
    ],
  ] as const)('refuses %s and changes nothing', async (_what, headers, status, error) => {
    const browser = await openBrowser(app);
    browsers.push(browser);
    const before = await snapshot(app, browser);
    const stats = app.sim!.stats();

    const res = await post('/sim/api/scan', JSON.stringify({ scene: browser.ticket.ticket, openid: DEMO_USERS[0]!.openid }), {
      ...headers,
    });

    expect(res.status).toBe(status);
    expect(JSON.parse(res.body)).toMatchObject({ error });
    expect(app.sim!.stats()).toEqual(stats);
    await expectStillPending(app, browser, before);
  });

  it('still serves its own page (same Origin)', async () => {
    const browser = await openBrowser(app);
    browsers.push(browser);
    const origin = new URL(app.url).origin;
    const res = await post('/sim/api/scan', JSON.stringify({ scene: browser.ticket.ticket, openid: DEMO_USERS[1]!.openid }), {
      'content-type': 'application/json',
      origin,
      'sec-fetch-site': 'same-origin',
    });
    expect(res.status).toBe(200);
    expect((await browser.waitFor('login')).ticket).toBe(browser.ticket.ticket);
  });
});

describe("the simulator's state is bounded", () => {
  it(`remembers at most ${MAX_SIM_USERS} users, always keeping the demo users`, () => {
    const users = createSimUsers();
    for (let i = 0; i <= MAX_SIM_USERS; i++) users.ensure(`o_flood_${i}`);
    expect(users.list()).toHaveLength(MAX_SIM_USERS);
    for (const demo of DEMO_USERS) expect(users.get(demo.openid)).toBeDefined();
    expect(users.get(`o_flood_${MAX_SIM_USERS}`)).toBeDefined();
    expect(users.get('o_flood_0')).toBeUndefined();
  });

  it(`keeps at most its bound of QR codes (${MAX_SIM_CODES} by default), forgetting the oldest`, () => {
    // A bound of 1,000 shows the mechanism without creating 100,000 codes; the default is the constant.
    const bound = 1_000;
    const codes = createQrRegistry(Date.now, bound);
    const first = codes.create({ scene: 'lg_first', expireSeconds: 2_592_000 });
    const permanent = codes.create({ scene: '7', expireSeconds: null });
    for (let i = 0; i < bound; i++) codes.create({ scene: `lg_${i}`, expireSeconds: 2_592_000 });
    expect(codes.live()).toHaveLength(bound);
    expect(codes.byTicket(first!.ticket)).toBeNull();
    expect(codes.byTicket(permanent!.ticket)).toBeNull();
    expect(codes.byScene('lg_first')).toBeNull();
    expect(codes.byScene('lg_0')).not.toBeNull();
    expect(codes.byScene(`lg_${bound - 1}`)).not.toBeNull();
    expect(MAX_SIM_CODES).toBe(100_000);
  });

  it(`remembers at most its bound of web-authorization codes (${MAX_SIM_OAUTH_GRANTS} by default), forgetting the oldest`, async () => {
    const bound = 3;
    const { router } = createOauthRouter({
      appId: APP_ID,
      appSecret: APP_SECRET,
      users: createSimUsers(),
      authorizationDomains: () => ['site.example.com'],
      maxGrants: bound,
    });
    const served = await serve(new Koa().use(router.routes()).callback());
    try {
      const codeOf = async (): Promise<string> => {
        const authorize = new URL(
          oauthAuthorizeUrl({ oauthBase: served.url, appId: APP_ID, redirectUri: 'https://site.example.com/cb', state: newOauthState() }),
        );
        const res = await fetch(`${served.url}/connect/oauth2/authorize/continue${authorize.search}`, { redirect: 'manual' });
        expect(res.status).toBe(302);
        return new URL(res.headers.get('location') ?? '').searchParams.get('code') ?? '';
      };
      const codes: string[] = [];
      for (let i = 0; i <= bound; i++) codes.push(await codeOf());
      const exchange = (code: string) => exchangeOauthCode({ apiBase: served.url, appId: APP_ID, appSecret: APP_SECRET, code });
      // The oldest was forgotten: WeChat's answer for a code it does not know. The newest still works.
      expect(await exchange(codes[0]!)).toMatchObject({ ok: false, errcode: 40029 });
      expect(await exchange(codes[bound]!)).toMatchObject({ ok: true });
      expect(MAX_SIM_OAUTH_GRANTS).toBe(10_000);
    } finally {
      await served.close();
    }
  });
});

describe('a scan needs what never leaves the store: the QR ticket, received by the AppID that made it', () => {
  let hook: Harness;
  /** A webhook with the demo's published credentials on the same store (the demo sharing production's Redis). */
  let demoHook: { url: string; close(): Promise<void> };
  beforeAll(async () => {
    hook = await startWebhook();
    const demo = createWebhook({
      engine: hook.engine,
      config: { ...hook.settings, token: DEMO_WECHAT.token, appId: DEMO_WECHAT.appId },
      logger: pino({ level: 'silent' }),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    demoHook = await serve(demo.callback());
  });
  afterAll(async () => {
    await demoHook.close();
    await hook.close();
  });

  const scanOf = (scene: string, ticket?: string) =>
    buildEventXml({
      toUserName: OA_ID,
      fromUserName: 'o_forger',
      createTime: Math.floor(Date.now() / 1000),
      event: 'SCAN',
      eventKey: scene,
      ...(ticket !== undefined ? { ticket } : {}),
    });

  it('a scan without the Ticket element is answered "unknown code" and changes nothing', async () => {
    const ticket = await hook.createTicket();
    const before = await hook.engine.tickets.get(ticket.id);
    const res = await hook.push(scanOf(ticket.id));
    expect(res.status).toBe(200);
    expect(readReply(res.body).content).toMatch(/^这个二维码已过期或无法识别/);
    expect(await hook.engine.tickets.get(ticket.id)).toEqual(before);
  });

  it("a scan signed with the demo's Token, even naming the real QR ticket, cannot move another account's ticket", async () => {
    const ticket = await hook.createTicket();
    const before = await hook.engine.tickets.get(ticket.id);
    const forged = signPush(scanOf(ticket.id, ticket.qr.wechatTicket), { token: DEMO_WECHAT.token });
    const res = await fetchText(`${demoHook.url}/wechat?${forged.query}`, {
      method: 'POST',
      body: forged.body,
      headers: { 'content-type': 'text/xml' },
    });
    expect(res.status).toBe(200);
    expect(readReply(res.body).content).toMatch(/^这个二维码已过期或无法识别/);
    expect(await hook.engine.tickets.get(ticket.id)).toEqual(before);
  });

  it('a ticket of the in-WeChat login (no QR code) cannot be scanned, and a web authorization cannot finish a QR ticket', async () => {
    const login = createLoginService({
      engine: hook.engine,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
    });
    const id = newTicketId();
    const noQr = newTicket({
      id,
      secret: newSecret(),
      qr: { url: '', wechatTicket: '', appId: APP_ID },
      browser: { userAgent: 'Mozilla/5.0 MicroMessenger/8.0.50', ip: '203.0.113.9' },
      now: Date.now(),
      ttlSeconds: 120,
    });
    await hook.engine.tickets.create(noQr);
    for (const qrTicket of [undefined, 'gQ-anything']) {
      const res = await hook.push(scanOf(id, qrTicket));
      expect(readReply(res.body).content).toMatch(/^这个二维码已过期或无法识别/);
      expect(await hook.engine.tickets.get(id)).toEqual(noQr);
    }
    const qrTicket = await hook.createTicket();
    const before = await hook.engine.tickets.get(qrTicket.id);
    const web = { openid: 'o_forger', mode: 'scan' as const, qrTicket: null };
    expect(await login.scan({ ...web, ticketId: qrTicket.id, appId: APP_ID })).toEqual({ kind: 'unknown' });
    expect(await hook.engine.tickets.get(qrTicket.id)).toEqual(before);
    // Another account's web authorization cannot finish it either; its own can.
    expect(await login.scan({ ...web, ticketId: id, appId: DEMO_WECHAT.appId })).toEqual({ kind: 'unknown' });
    expect(await hook.engine.tickets.get(id)).toEqual(noQr);
    expect(await login.scan({ ...web, ticketId: id, appId: APP_ID })).toMatchObject({ kind: 'confirmed', changed: true });
  });

  it('the real account with the real QR ticket still logs in', async () => {
    const ticket = await hook.createTicket();
    const res = await hook.push(scanOf(ticket.id, ticket.qr.wechatTicket));
    expect(res.status).toBe(200);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
  });
});
