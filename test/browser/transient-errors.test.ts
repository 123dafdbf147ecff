/**
 * Passing trouble behind the gateway does not strand the page: when WeChat refuses a QR code now and then, or
 * the store will not keep a new ticket (STORE_UNAVAILABLE), the page retries by itself a few times, then asks
 * the user.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Standalone } from '../../apps/standalone/standalone.js';
import type { Ticket } from '../../libs/ticket/index.js';
import { startTestStandalone } from '../support/standalone.js';
import { launchChromium, shownTicket, statusLine } from './chromium.js';

describe('login page when WeChat is briefly unavailable', () => {
  let browser: Browser;
  let app: Standalone;
  /** New tickets the store refuses to keep, from now on. */
  let storeFailures = 0;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone({ LOGIN_CONFIRMATION: 'scan' })]);
    const tickets = app.engine.tickets;
    const create = tickets.create.bind(tickets);
    tickets.create = (ticket: Ticket) => (storeFailures-- > 0 ? Promise.reject(new Error('injected: store unavailable')) : create(ticket));
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.close();
  });

  async function open(): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-US' });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${app.url}/`);
    return page;
  }

  it('shows a QR code after two refusals without a click', async () => {
    // 45009 (daily quota) is not retried by the WeChat client, so each refusal reaches the page.
    app.sim!.failNext('/cgi-bin/qrcode/create', 45009, 2);
    const callsBefore = app.sim!.stats().qrcodeCreateCalls;
    const page = await open();
    const { ticket } = await shownTicket(page);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Two refused attempts and the one that worked.
    expect(app.sim!.stats().qrcodeCreateCalls - callsBefore).toBe(3);
  });

  it('shows a QR code after two STORE_UNAVAILABLE refusals without a click', async () => {
    storeFailures = 2;
    const page = await open();
    const { ticket } = await shownTicket(page);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(storeFailures).toBe(-1);
  });

  it('asks the user once the automatic retries are spent', async () => {
    app.sim!.failNext('/cgi-bin/qrcode/create', 45009, 10);
    const page = await open();
    await expect.poll(() => statusLine(page).textContent(), { timeout: 30_000 }).toMatch(/WeChat|QR code/i);
    await expect
      .poll(
        () =>
          page
            .getByRole('button')
            .filter({ hasText: /try again|new QR|refresh/i })
            .first()
            .isVisible(),
        { timeout: 30_000 },
      )
      .toBe(true);
  });
});
