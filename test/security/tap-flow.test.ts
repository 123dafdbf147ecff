/**
 * `tap` mode end to end on both engines (anti-QRLJacking): the scan only marks the ticket `scanned`, the
 * Official Account's reply carries a one-time link to the gateway's confirmation page, and the browser is
 * logged in only when the scanner taps Confirm there; "Not me" cancels it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { loadConfig } from '../../libs/config/index.js';
import { AES_KEY, CHROME_ON_MAC } from '../support/fixtures.js';
import { LoginBrowser } from '../support/login-browser.js';
import { followLink, linkIn, scan } from '../support/phone.js';
import { startRedisServer } from '../support/redis-server.js';
import { startTestStandalone } from '../support/standalone.js';

it('tap is the default confirmation mode', () => {
  expect(loadConfig({}).LOGIN_CONFIRMATION).toBe('tap');
});

describe.each(['memory', 'redis'] as const)('tap flow on the %s engine', (engine) => {
  let app: Standalone;
  let stopRedis: () => Promise<void> = async () => {};
  const browsers: LoginBrowser[] = [];
  const openBrowser = async (): Promise<LoginBrowser> => {
    const browser = await LoginBrowser.open(app.url, { extraHeaders: { 'user-agent': CHROME_ON_MAC } });
    browsers.push(browser);
    await browser.waitFor('status', (s) => s.status === 'pending');
    return browser;
  };

  beforeAll(async () => {
    let env: Record<string, string> = {};
    if (engine === 'redis') {
      const redis = await startRedisServer();
      stopRedis = () => redis.stop();
      env = { REDIS_URL: redis.url };
    }
    // No LOGIN_CONFIRMATION and no SESSION_SECRET: the demo's defaults must give a working tap flow.
    app = await startTestStandalone({ ...env, WECHAT_AES_KEY: AES_KEY });
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    await app?.close();
    await stopRedis();
  });

  it('scan → browser sees scanned → Confirm on the phone → login → the code becomes a session', async () => {
    const browser = await openBrowser();
    const { ticket, secret } = browser.ticket;
    const openid = `o_tap_confirm_${engine}`;

    const scanned = await scan(app.url, { scene: ticket, openid });

    await browser.waitFor('status', (s) => s.status === 'scanned');
    expect(scanned.reply).toMatch(/确认/);
    const link = linkIn(scanned.reply);
    expect(link).toBeDefined();
    // The demo's PUBLIC_URL is the standalone's own URL: the simulator's phone opens the page same-origin.
    expect(new URL(link!).origin).toBe(new URL(app.url).origin);
    expect(new URL(link!).pathname).toBe('/confirm');
    expect(browser.logins()).toHaveLength(0);
    expect((await app.engine.tickets.get(ticket))?.status).toBe('scanned');

    const followed = await followLink(link!, 'confirm');

    expect(followed.page.status).toBe(200);
    expect(followed.page.body).toContain('Chrome 126');
    expect(followed.page.body).toContain('macOS');
    expect(followed.page.body).toContain('127.0.0.1');
    expect(followed.page.body).toContain(new URL(app.url).host);
    expect(followed.page.body).toMatch(/确认登录/);
    expect(followed.page.body).toMatch(/不是我/);
    expect(followed.submitted?.status).toBe(200);
    expect(followed.submitted?.body).toMatch(/已确认登录/);
    // The scanner learns how many times they have signed in, as the scan-mode reply tells them.
    expect(followed.submitted?.body).toMatch(/第 1 次登录/);
    const login = await browser.waitFor('login');
    expect(login.ticket).toBe(ticket);
    const session = await browser.exchange(login.code, secret);
    expect(session.status).toBe(200);
    expect(session.body.openid).toBe(openid);
    expect(browser.logins()).toHaveLength(1);
  });

  it('Not me on the phone → the browser sees cancelled, no login, and can ask for a new QR code', async () => {
    const browser = await openBrowser();
    const { ticket } = browser.ticket;

    const scanned = await scan(app.url, { scene: ticket, openid: `o_tap_cancel_${engine}`, encrypt: true });
    await browser.waitFor('status', (s) => s.status === 'scanned');
    const followed = await followLink(linkIn(scanned.reply)!, 'cancel');

    expect(followed.submitted?.status).toBe(200);
    expect(followed.submitted?.body).toMatch(/已拒绝/);
    await browser.waitFor('status', (s) => s.status === 'cancelled');
    expect((await app.engine.tickets.get(ticket))?.status).toBe('cancelled');
    expect(browser.logins()).toHaveLength(0);
    const fresh = await browser.refresh();
    if (!('ticket' in fresh)) throw new Error(`refresh failed: ${fresh.error.code}`);
    expect(fresh.ticket).not.toBe(ticket);
    await browser.waitFor('ticket', (t) => t.ticket === fresh.ticket);
  });

  it('serves the page with a strict CSP, framable only by its own origin (the simulator phone), never cached', async () => {
    const browser = await openBrowser();
    const scanned = await scan(app.url, { scene: browser.ticket.ticket, openid: `o_tap_headers_${engine}` });
    // The link opens a page whose one script posts the token from the fragment (issue 16, item 7): the CSP
    // admits that script by nonce only, never inline code in general.
    const res = await fetch(linkIn(scanned.reply)!);
    const csp = res.headers.get('content-security-policy') ?? '';

    expect(res.status).toBe(200);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(csp).toMatch(/script-src 'nonce-[^' ]+'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('same-origin');
    const html = await res.text();
    expect(html.match(/<script\b/g)).toHaveLength(1);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    expect(html).toMatch(/<meta name="viewport"/);
    expect(html).toMatch(/<html lang="zh-CN">/);
    // The simulator's phone page (same origin) is what frames it in the demo.
    expect((await fetch(`${app.url}/sim`)).status).toBe(200);
  });
});
