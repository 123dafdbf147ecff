/**
 * Expired QR codes in real Chromium, with 3-second tickets: the page replaces them by itself only while it is
 * visible and at most 5 times in a row (each new code is a WeChat API call), then waits for a click; the
 * click re-arms the automatic refreshes; a ticket lost while offline is replaced like an expired one.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { startTestStandalone } from '../support/standalone.js';
import { eventually, launchChromium, qrImage, shownTicket, snapshot, statusLine, ticketsCreated } from './chromium.js';

const TTL_SECONDS = 3;
const EXPIRED_ASKING = 'The QR code has expired. Click to get a new one.';

describe('expired QR codes', () => {
  let browser: Browser;
  let app: Standalone;
  const contexts: BrowserContext[] = [];
  const connections = new Set<Socket>();

  beforeAll(async () => {
    [browser, app] = await Promise.all([
      launchChromium(),
      startTestStandalone({ LOGIN_CONFIRMATION: 'scan', TICKET_TTL_SECONDS: String(TTL_SECONDS) }),
    ]);
    app.server.on('connection', (socket: Socket) => {
      connections.add(socket);
      socket.on('close', () => connections.delete(socket));
    });
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.close();
  });

  async function open(init?: () => void): Promise<Page> {
    // An earlier test's page would keep refreshing in the background and skew the ticket counts.
    for (const c of contexts.splice(0)) await c.close();
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    if (init) await context.addInitScript(init);
    const page = await context.newPage();
    await page.goto(app.url);
    return page;
  }

  it('refreshes by itself while visible, stops after 5 in a row, and a keyboard click re-arms it', async () => {
    const before = await ticketsCreated(app.metricsUrl);
    const page = await open();
    const refresh = page.locator('.qrgate-refresh');

    // 1 code on load + 5 automatic replacements, each living 3 s: about 18 s.
    await refresh.waitFor({ state: 'visible', timeout: 45_000 });
    await expect.poll(() => statusLine(page).textContent()).toBe(EXPIRED_ASKING);
    expect((await ticketsCreated(app.metricsUrl)) - before).toBe(6);
    await snapshot(page, 'expired-desktop');

    // Well past another lifetime: still no new code without the user.
    await page.waitForTimeout((TTL_SECONDS + 2) * 1000);
    expect((await ticketsCreated(app.metricsUrl)) - before).toBe(6);
    expect(await page.locator('body').getAttribute('data-state')).toBe('expired');

    // The button is reachable with Tab and works with Enter.
    let focused = false;
    for (let i = 0; i < 10 && !focused; i++) {
      await page.keyboard.press('Tab');
      focused = await refresh.evaluate((b) => b === document.activeElement);
    }
    expect(focused).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => statusLine(page).textContent()).toBe('Waiting for you to scan…');
    expect((await ticketsCreated(app.metricsUrl)) - before).toBe(7);

    // The user acted: the next expiry is replaced automatically again.
    await eventually(async () => (await ticketsCreated(app.metricsUrl)) - before >= 8, 15_000, 'an automatic refresh after the click');
  });

  it('does not refresh while the tab is hidden, and does as soon as it is visible again', async () => {
    const before = await ticketsCreated(app.metricsUrl);
    // Headless Chromium reports every page as visible; emulate a background tab through the same API.
    const page = await open(() => {
      let hidden = true;
      Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
      Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
      (window as unknown as { setTabHidden(h: boolean): void }).setTabHidden = (h: boolean) => {
        hidden = h;
        document.dispatchEvent(new Event('visibilitychange'));
      };
    });
    const setTabHidden = (hidden: boolean) =>
      page.evaluate((h) => (window as unknown as { setTabHidden(h: boolean): void }).setTabHidden(h), hidden);
    // Opened in the background: no connection, so no QR code spent, until someone looks (issue 16 item 2).
    await page.waitForTimeout((TTL_SECONDS + 2) * 1000);
    expect(await ticketsCreated(app.metricsUrl)).toBe(before);
    expect(await qrImage(page).and(page.locator('[data-ticket]')).count()).toBe(0);
    expect(await page.locator('body').getAttribute('data-state')).toBe('connecting');
    await setTabHidden(false);
    const first = await shownTicket(page);
    expect(await ticketsCreated(app.metricsUrl)).toBe(before + 1);
    await setTabHidden(true);
    await expect.poll(() => page.locator('body').getAttribute('data-state'), { timeout: 15_000 }).toBe('expired');
    await page.waitForTimeout((TTL_SECONDS + 2) * 1000);
    expect(await ticketsCreated(app.metricsUrl)).toBe(before + 1);

    await page.evaluate(() => (window as unknown as { setTabHidden(h: boolean): void }).setTabHidden(false));
    await expect.poll(() => statusLine(page).textContent(), { timeout: 15_000 }).toBe('Waiting for you to scan…');
    expect((await shownTicket(page)).ticket).not.toBe(first.ticket);
    expect(await ticketsCreated(app.metricsUrl)).toBe(before + 2);
  });

  it('replaces a ticket that vanished while offline (TICKET_NOT_FOUND on resume)', async () => {
    const page = await open();
    const first = await shownTicket(page);
    await page.context().setOffline(true);
    for (const socket of connections) socket.destroy();
    await expect.poll(() => statusLine(page).textContent(), { timeout: 15_000 }).toBe('Offline — reconnecting…');
    // Nobody watches the ticket now: the store drops it at its TTL without recording an expiry.
    await page.waitForTimeout((TTL_SECONDS + 1) * 1000);
    await page.context().setOffline(false);
    await expect.poll(async () => (await shownTicket(page)).ticket, { timeout: 20_000 }).not.toBe(first.ticket);
    await expect.poll(() => statusLine(page).textContent()).toBe('Waiting for you to scan…');
  });
});
