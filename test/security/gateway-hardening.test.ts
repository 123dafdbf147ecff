/**
 * The gateway's and the webhook's defences that the catalogue does not spell out entry by entry: an allowed
 * foreign origin works, refreshes spend the per-IP ticket quota, exchanges are limited with 429 and
 * Retry-After, X-Forwarded-For counts only behind a trusted proxy, the previous AES key and required
 * encryption behave end to end, WeChat's identical retry is answered idempotently, and the separate
 * processes refuse tap mode without SESSION_SECRET and PUBLIC_URL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_WECHAT, type Standalone } from '../../apps/standalone/standalone.js';
import { readReply } from '../../libs/wechat/index.js';
import { startApp } from '../support/app-process.js';
import { ConnectError, LoginBrowser } from '../support/login-browser.js';
import { followLink, linkIn, scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { AES_KEY, PREVIOUS_AES_KEY } from '../support/fixtures.js';
import { openBrowser, postPush, scanOf, signed, snapshot, expectStillPending, ticketsCreated } from './security-harness.js';

const running: Standalone[] = [];
const browsers: LoginBrowser[] = [];
const start = async (env: Record<string, string>): Promise<Standalone> => {
  const app = await startTestStandalone(env);
  running.push(app);
  return app;
};
const track = (browser: LoginBrowser): LoginBrowser => {
  browsers.push(browser);
  return browser;
};
afterEach(async () => {
  for (const browser of browsers.splice(0)) browser.close();
  for (const app of running.splice(0)) await app.close();
});

/** Log `browser` in through the phone (tap mode) and return its login code. */
async function confirmedCode(app: Standalone, browser: LoginBrowser, openid: string): Promise<string> {
  const result = await scan(app.url, { scene: browser.ticket.ticket, openid });
  expect((await followLink(linkIn(result.reply)!, 'confirm')).submitted?.status).toBe(200);
  return (await browser.waitFor('login')).code;
}

describe('origins', () => {
  it('an origin in ALLOWED_ORIGINS may open a socket and exchange a code; others still may not', async () => {
    const app = await start({ ALLOWED_ORIGINS: 'https://shop.example' });
    const browser = track(await LoginBrowser.open(app.url, { extraHeaders: { origin: 'https://shop.example' } }));
    const code = await confirmedCode(app, browser, 'o_shop');

    const session = await browser.exchange(code, browser.ticket.secret, { origin: 'https://shop.example' });

    expect(session.status).toBe(200);
    const refused = await LoginBrowser.open(app.url, {
      transports: ['polling'],
      extraHeaders: { origin: 'https://shop.example.evil' },
    }).catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe('ORIGIN_NOT_ALLOWED');
  });

  it('same origin is allowed by default', async () => {
    const app = await start({});
    const browser = track(await LoginBrowser.open(app.url, { extraHeaders: { origin: new URL(app.url).origin } }));
    expect(browser.ticket.ticket).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe('rate limits', () => {
  it('refreshes spend the per-IP ticket quota: the refresh past it is refused RATE_LIMITED, then new sockets too', async () => {
    const app = await start({ RATE_LIMIT_TICKETS_PER_MINUTE: '3', MAX_REFRESHES_PER_SOCKET: '10' });
    const browser = track(await LoginBrowser.open(app.url));
    expect('ticket' in (await browser.refresh())).toBe(true);
    expect('ticket' in (await browser.refresh())).toBe(true);
    const created = await ticketsCreated(app);

    const refused = await browser.refresh();
    const socket = await LoginBrowser.open(app.url).catch((e: unknown) => e);

    expect(refused).toEqual({ error: { code: 'RATE_LIMITED', message: 'too many new tickets from this address; retry in a minute' } });
    expect(socket).toBeInstanceOf(ConnectError);
    expect((socket as ConnectError).code).toBe('RATE_LIMITED');
    expect(await ticketsCreated(app)).toBe(created);
  });

  it('exchanges past the per-IP limit get 429 with Retry-After and change nothing', async () => {
    const app = await start({ RATE_LIMIT_EXCHANGES_PER_MINUTE: '2' });
    const browser = track(await LoginBrowser.open(app.url));
    const code = await confirmedCode(app, browser, 'o_exchanges');
    for (let i = 0; i < 2; i++) expect((await browser.exchange(code, 'A'.repeat(43))).status).toBe(401);

    const limited = await fetch(`${app.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code, secret: browser.ticket.secret }),
    });

    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toEqual({ error: 'too many exchanges from this address', code: 'RATE_LIMITED' });
    expect((await app.engine.tickets.get(browser.ticket.ticket))?.status).toBe('confirmed');
  });

  it('X-Forwarded-For is ignored unless TRUST_PROXY is set', async () => {
    const direct = await start({ RATE_LIMIT_TICKETS_PER_MINUTE: '2' });
    for (const address of ['203.0.113.1', '203.0.113.2']) {
      const browser = track(await LoginBrowser.open(direct.url, { extraHeaders: { 'x-forwarded-for': address } }));
      expect((await direct.engine.tickets.get(browser.ticket.ticket))?.browser.ip).toBe('127.0.0.1');
    }
    // Every "address" was really 127.0.0.1, so the quota of 2 is spent.
    const spoofed = await LoginBrowser.open(direct.url, { extraHeaders: { 'x-forwarded-for': '203.0.113.3' } }).catch((e: unknown) => e);
    expect((spoofed as ConnectError).code).toBe('RATE_LIMITED');

    // Behind one trusted proxy the client is the hop it appended, last; whatever the client wrote before it is a
    // claim, so varying it neither escapes the quota nor changes the IP the scanner is shown.
    const proxied = await start({ RATE_LIMIT_TICKETS_PER_MINUTE: '2', TRUST_PROXY: '127.0.0.1' });
    for (const claim of ['198.51.100.1', '198.51.100.2']) {
      const browser = track(await LoginBrowser.open(proxied.url, { extraHeaders: { 'x-forwarded-for': `${claim}, 203.0.113.9` } }));
      expect((await proxied.engine.tickets.get(browser.ticket.ticket))?.browser.ip).toBe('203.0.113.9');
    }
    const limited = await LoginBrowser.open(proxied.url, { extraHeaders: { 'x-forwarded-for': '198.51.100.3, 203.0.113.9' } }).catch(
      (e: unknown) => e,
    );
    const other = track(await LoginBrowser.open(proxied.url, { extraHeaders: { 'x-forwarded-for': '203.0.113.10' } }));
    expect((limited as ConnectError).code).toBe('RATE_LIMITED');
    expect((await proxied.engine.tickets.get(other.ticket.ticket))?.browser.ip).toBe('203.0.113.10');

    // Two trusted proxies: the client is the second hop from the right.
    const twice = await start({ TRUST_PROXY: '127.0.0.1,10.0.0.0/8' });
    const behindTwo = track(
      await LoginBrowser.open(twice.url, { extraHeaders: { 'x-forwarded-for': '198.51.100.4, 203.0.113.11, 10.0.0.2' } }),
    );
    expect((await twice.engine.tickets.get(behindTwo.ticket.ticket))?.browser.ip).toBe('203.0.113.11');
  });
});

describe('webhook', () => {
  it('accepts a push encrypted with WECHAT_AES_KEY_PREVIOUS during a rotation and answers with that key', async () => {
    const app = await start({ WECHAT_AES_KEY: AES_KEY, WECHAT_AES_KEY_PREVIOUS: PREVIOUS_AES_KEY });
    const browser = track(await openBrowser(app));
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_rotation'), {
      aes: { encodingAesKey: PREVIOUS_AES_KEY, appId: DEMO_WECHAT.appId },
    });

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(200);
    expect(readReply(res.body, { token: DEMO_WECHAT.token, encodingAesKey: PREVIOUS_AES_KEY }).content).toMatch(/确认/);
    await browser.waitFor('status', (s) => s.status === 'scanned');
  });

  it('WECHAT_REQUIRE_ENCRYPTION=true refuses plaintext pushes and changes nothing', async () => {
    const app = await start({ WECHAT_AES_KEY: AES_KEY, WECHAT_REQUIRE_ENCRYPTION: 'true' });
    const browser = track(await openBrowser(app));
    const before = await snapshot(app, browser);
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_plain'));

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(400);
    expect(res.body).toBe('plaintext push refused: this webhook accepts safe-mode (encrypt_type=aes) pushes only');
    await expectStillPending(app, browser, before);
  });

  it('answers WeChat re-sending the very same request (same query string, same body) with the same reply, once', async () => {
    const app = await start({});
    const browser = track(await openBrowser(app));
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_retry'));
    const first = await postPush(app, push.query, push.body);
    expect(first.status).toBe(200);
    await browser.waitFor('status', (s) => s.status === 'scanned');
    const before = await snapshot(app, browser);

    const retry = await postPush(app, push.query, push.body);

    expect(retry.status).toBe(200);
    // The same answer as the first delivery (the scanner sees the re-send's answer when the first was lost).
    expect(readReply(retry.body).content).toBe(readReply(first.body).content);
    expect(before.ticket?.version).toBe(2);
    expect((await app.engine.tickets.get(browser.ticket.ticket))?.version).toBe(2);
    expect(browser.statuses()).toEqual(['pending', 'scanned']);
  });
});

describe('start-up in tap mode', () => {
  const WECHAT = { WECHAT_APPID: 'wxtapmodestartup0', WECHAT_SECRET: 'tap-mode-secret', WECHAT_TOKEN: 'tap-mode-token' };
  // The Redis URL is never reached: both processes must stop at the configuration, before connecting.
  const common = { ...WECHAT, REDIS_URL: 'redis://127.0.0.1:1', LOGIN_CONFIRMATION: 'tap' };

  it('the separate gateway and webhook refuse to start without SESSION_SECRET and PUBLIC_URL, naming both', async () => {
    for (const name of ['gateway', 'webhook'] as const) {
      const failed = await startApp(name, common).catch((e: Error) => e);
      expect(failed).toBeInstanceOf(Error);
      expect((failed as Error).message).toMatch(/SESSION_SECRET: required when LOGIN_CONFIRMATION=tap/);
      expect((failed as Error).message).toMatch(/PUBLIC_URL: required when LOGIN_CONFIRMATION=tap/);
      const noUrl = await startApp(name, { ...common, SESSION_SECRET: 'a-long-enough-session-secret' }).catch((e: Error) => e);
      expect((noUrl as Error).message).toMatch(/PUBLIC_URL: required/);
      expect((noUrl as Error).message).not.toMatch(/a-long-enough-session-secret/);
    }
  });
});
