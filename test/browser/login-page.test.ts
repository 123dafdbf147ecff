/**
 * The login page in real Chromium: the QR code on screen is the ticket's, a scan signs the page in with an
 * HttpOnly session cookie, both languages render, redirects stay on our origin, and axe finds nothing serious.
 */
import { describe, expect, it } from 'vitest';
import axe from 'axe-core';
import type { Page } from 'playwright-core';
import type { TicketPayload } from '../../libs/protocol/index.js';
import { scan } from '../support/phone.js';
import { chromiumAndStandalone, decodeQr, eventually, qrImage, shownTicket, snapshot, statusLine } from './chromium.js';

const DESKTOP = { width: 1280, height: 800 };
const NARROW = { width: 320, height: 640 };

describe('login page', () => {
  const demo = chromiumAndStandalone({ LOGIN_CONFIRMATION: 'scan' });

  async function open(
    options: { locale?: string; viewport?: typeof DESKTOP; colorScheme?: 'light' | 'dark'; path?: string } = {},
  ): Promise<Page> {
    const context = await demo.newContext({
      locale: options.locale ?? 'en-US',
      viewport: options.viewport ?? DESKTOP,
      colorScheme: options.colorScheme ?? 'light',
    });
    const page = await context.newPage();
    await page.goto(`${demo.app.url}${options.path ?? '/'}`);
    return page;
  }

  /** Record the `ticket` events the page receives over its WebSocket. */
  function recordTickets(page: Page): TicketPayload[] {
    const tickets: TicketPayload[] = [];
    page.on('websocket', (ws) => {
      ws.on('framereceived', ({ payload }) => {
        const text = typeof payload === 'string' ? payload : payload.toString('utf8');
        const match = /^42\/login,(.*)$/s.exec(text);
        if (match === null) return;
        const [event, data] = JSON.parse(match[1]!) as [string, unknown];
        if (event === 'ticket') tickets.push(data as TicketPayload);
      });
    });
    return tickets;
  }

  async function runAxe(page: Page): Promise<Array<{ id: string; impact: string | null | undefined; nodes: number }>> {
    // Evaluated over the DevTools protocol: the page's CSP (rightly) refuses an injected inline <script>.
    await page.evaluate(axe.source);
    const results = await page.evaluate(() => (window as unknown as { axe: typeof axe }).axe.run());
    return results.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  }

  it('serves the client as a public, cacheable ES module', async () => {
    const res = await fetch(`${demo.app.url}/client/qrgate.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/javascript/);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    expect(await res.text()).toMatch(/export\s*\{[^}]*createQrLogin/);
    // An explicit Cache-Control, or fetch adds `no-cache`, which (rightly) defeats the ETag check.
    const again = await fetch(`${demo.app.url}/client/qrgate.js`, {
      headers: { 'if-none-match': res.headers.get('etag')!, 'cache-control': 'max-age=0' },
    });
    expect(again.status).toBe(304);
  });

  it('keeps a strict CSP: scripts from self or this response nonce only', async () => {
    const res = await fetch(`${demo.app.url}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).not.toContain('unsafe-inline');
    const nonce = /script-src 'self' 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce).toBeDefined();
    const html = await res.text();
    expect(html).toContain(`<script type="module" nonce="${nonce}">`);
    const second = await fetch(`${demo.app.url}/`);
    expect(second.headers.get('content-security-policy')).not.toContain(nonce!);
  });

  it('shows a QR code that decodes to its ticket URL, with a running countdown, and no secret in the DOM', async () => {
    const context = await demo.newContext({ locale: 'en-US', viewport: DESKTOP });
    const page = await context.newPage();
    const tickets = recordTickets(page);
    const csp: string[] = [];
    page.on('console', (m) => m.type() === 'error' && csp.push(m.text()));
    await page.goto(demo.app.url);

    await expect.poll(() => statusLine(page).textContent()).toBe('Waiting for you to scan…');
    const shown = await shownTicket(page);
    await eventually(() => tickets.length > 0, 10_000, 'the ticket frame');
    const received = tickets.at(-1)!;
    expect(shown).toEqual({ ticket: received.ticket, qrUrl: received.qrUrl });
    expect(await decodeQr(page)).toBe(received.qrUrl);

    // The simulator knows this code under the same URL: it is the one WeChat issued for the ticket.
    const codes = (await (await fetch(`${demo.app.url}/sim/api/codes`)).json()) as Array<{ url: string }>;
    expect(codes.map((c) => c.url)).toContain(received.qrUrl);

    const countdown = page.locator('.qrgate-countdown');
    await expect.poll(() => countdown.textContent()).toMatch(/^Expires in \d+ s$/);
    expect(await page.locator('.qrgate-ring-bar').isVisible()).toBe(true);
    expect(await qrImage(page).getAttribute('alt')).toBe('QR code to scan with WeChat');
    expect(await page.content()).not.toContain(received.secret);
    expect(csp).toEqual([]);
    await snapshot(page, 'waiting-desktop');
  });

  it('signs in after a scan: "signed in as …" and an HttpOnly qrgate_session cookie', async () => {
    const page = await open();
    const { ticket } = await shownTicket(page);
    await scan(demo.app.url, { scene: ticket, openid: 'o_browser_page' });

    await expect.poll(() => statusLine(page).textContent(), { timeout: 15_000 }).toBe('Signed in as o_browser_page');
    expect(await page.locator('body').getAttribute('data-state')).toBe('signed-in');
    const cookie = (await page.context().cookies(demo.app.url)).find((c) => c.name === 'qrgate_session');
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.value).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(await page.evaluate(() => document.cookie)).not.toContain('qrgate_session');
    await snapshot(page, 'signed-in-desktop');
  });

  it('renders zh-CN from Accept-Language, English from ?lang=en, and the switch keeps other parameters', async () => {
    const page = await open({ locale: 'zh-CN', viewport: NARROW, path: '/?redirect=/healthz' });
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await page.locator('h1').textContent()).toBe('微信扫码登录');
    await expect.poll(() => statusLine(page).textContent()).toBe('等待扫码…');
    await expect.poll(() => page.locator('.qrgate-countdown').textContent()).toMatch(/^\d+ 秒后过期$/);
    expect(await qrImage(page).getAttribute('alt')).toBe('请用微信扫描的登录二维码');
    expect(await page.locator('#sim-link').textContent()).toBe('手边没有微信？打开手机模拟器');
    await snapshot(page, 'zh-320');

    const toggle = page.locator('#lang-switch');
    expect(await toggle.textContent()).toBe('English');
    await toggle.click();
    await page.waitForURL(/lang=en/);
    expect(new URL(page.url()).searchParams.get('redirect')).toBe('/healthz');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('h1').textContent()).toBe('Sign in with WeChat');
    await expect.poll(() => statusLine(page).textContent()).toBe('Waiting for you to scan…');
    await snapshot(page, 'waiting-320');

    // The whole card fits a 320 px screen: nothing scrolls sideways.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
  });

  it('goes to ?redirect= after login when it is a same-origin path', async () => {
    const page = await open({ path: '/?redirect=/healthz' });
    const { ticket } = await shownTicket(page);
    await scan(demo.app.url, { scene: ticket, openid: 'o_browser_redirect' });
    await page.waitForURL(`${demo.app.url}/healthz`, { timeout: 15_000 });
    expect(await page.textContent('body')).toBe('ok');
  });

  it('ignores a ?redirect= that would leave the origin', async () => {
    for (const evil of ['//example.com/x', '/\\example.com', 'https://example.com/']) {
      const page = await open({ path: `/?redirect=${encodeURIComponent(evil)}` });
      const { ticket } = await shownTicket(page);
      await scan(demo.app.url, { scene: ticket, openid: 'o_browser_evil' });
      await expect.poll(() => statusLine(page).textContent(), { timeout: 15_000 }).toBe('Signed in as o_browser_evil');
      // Give a wrongful navigation the chance to happen before checking it did not.
      await page.waitForTimeout(500);
      expect(new URL(page.url()).origin).toBe(demo.app.url);
    }
  });

  it('has no serious or critical axe violations, in light and dark, waiting and signed in', async () => {
    for (const [locale, colorScheme] of [
      ['en-US', 'light'],
      ['zh-CN', 'dark'],
    ] as const) {
      const page = await open({ locale, colorScheme });
      const { ticket } = await shownTicket(page);
      await expect.poll(() => page.locator('body').getAttribute('data-state')).toBe('pending');
      const waiting = await runAxe(page);
      expect(waiting.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);

      await scan(demo.app.url, { scene: ticket, openid: `o_axe_${colorScheme}` });
      await expect.poll(() => page.locator('body').getAttribute('data-state'), { timeout: 15_000 }).toBe('signed-in');
      const signedIn = await runAxe(page);
      expect(signedIn.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
      if (colorScheme === 'dark') await snapshot(page, 'signed-in-dark-zh');
    }
  });
});
