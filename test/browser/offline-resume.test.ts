/**
 * Losing the network in real Chromium: the phone scans while the page cannot receive anything; once the page
 * is back online it resumes the same ticket with its secret, gets the login and signs in. A draining gateway
 * makes the page wait and retry rather than fail.
 */
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { eventually, launchChromium, shownTicket, snapshot, statusLine, ticketsCreated } from './chromium.js';

describe('offline and back', () => {
  let browser: Browser;
  let app: Standalone;
  const contexts: BrowserContext[] = [];
  const connections = new Set<Socket>();

  beforeAll(async () => {
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone({ LOGIN_CONFIRMATION: 'scan' })]);
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

  async function open(viewport = { width: 1280, height: 800 }): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-US', viewport });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(app.url);
    return page;
  }

  /**
   * Offline emulation stops new requests but may leave an open WebSocket alone, so the server also drops
   * every TCP connection: the page is really cut off.
   */
  async function cutOff(page: Page): Promise<void> {
    await page.context().setOffline(true);
    for (const socket of connections) socket.destroy();
    await eventually(() => app.gateway.socketCount === 0, 10_000, 'the gateway to lose the socket');
  }

  it('signs in after a scan that happened while the page was offline, by resuming the same ticket', async () => {
    const page = await open({ width: 320, height: 640 });
    const { ticket } = await shownTicket(page);
    const created = await ticketsCreated(app.metricsUrl);

    await cutOff(page);
    await expect.poll(() => statusLine(page).textContent(), { timeout: 15_000 }).toBe('Offline — reconnecting…');
    await snapshot(page, 'offline-320');

    await scan(app.url, { scene: ticket, openid: 'o_offline_scan' });
    // The login is waiting on the server; the page cannot hear it.
    await page.waitForTimeout(2000);
    expect(app.gateway.socketCount).toBe(0);
    expect(await page.locator('body').getAttribute('data-state')).toBe('offline');

    await page.context().setOffline(false);
    await expect.poll(() => statusLine(page).textContent(), { timeout: 20_000 }).toBe('Signed in as o_offline_scan');
    expect((await shownTicket(page)).ticket).toBe(ticket);
    expect(await ticketsCreated(app.metricsUrl)).toBe(created);
    const cookie = (await page.context().cookies(app.url)).find((c) => c.name === 'qrgate_session');
    expect(cookie?.httpOnly).toBe(true);
    await snapshot(page, 'signed-in-320');
  });

  it('keeps retrying (offline, not failed) while the gateway drains', async () => {
    const page = await open();
    await shownTicket(page);
    await expect.poll(() => page.locator('body').getAttribute('data-state')).toBe('pending');
    // Draining closes the transport; every reconnect is refused with SHUTTING_DOWN until another gateway answers.
    await app.gateway.drain(2000);
    await expect.poll(() => page.locator('body').getAttribute('data-state'), { timeout: 10_000 }).toBe('offline');
    await page.waitForTimeout(3000);
    expect(await page.locator('body').getAttribute('data-state')).toBe('offline');
    expect(await page.locator('.qrgate-refresh').isHidden()).toBe(true);
  });
});
