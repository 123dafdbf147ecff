/**
 * The page through the default tap flow in real Chromium: after a scan it asks the user to confirm on the phone,
 * "Not me" on the phone shows the refusal and offers a new QR code, and Confirm signs the page in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { followLink, linkIn, scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { launchChromium, shownTicket, snapshot, statusLine } from './chromium.js';

describe('login page in tap mode', () => {
  let browser: Browser;
  let app: Standalone;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone()]);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.close();
  });

  async function open(): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${app.url}/`);
    return page;
  }

  it('shows "scanned — confirm on your phone", then the refusal and a refresh button after "Not me"', async () => {
    const page = await open();
    const { ticket } = await shownTicket(page);
    const scanned = await scan(app.url, { scene: ticket, openid: 'o_page_not_me' });
    await expect.poll(() => statusLine(page).textContent()).toMatch(/confirm on your phone/i);
    await snapshot(page, 'scanned-desktop');

    const link = linkIn(scanned.reply);
    expect(link).toBeDefined();
    expect((await followLink(link!, 'cancel')).submitted?.status).toBe(200);
    await expect.poll(() => statusLine(page).textContent()).toMatch(/declined on the phone/i);
    await expect.poll(() => page.getByRole('button', { name: /new QR|refresh/i }).isVisible()).toBe(true);
    await snapshot(page, 'cancelled-desktop');
  });

  it('signs in after Confirm on the phone', async () => {
    const page = await open();
    const { ticket } = await shownTicket(page);
    const result = await scan(app.url, { scene: ticket, openid: 'o_page_confirm', tap: 'confirm' });
    expect(result.tapped?.submitted?.status).toBe(200);
    await expect.poll(() => statusLine(page).textContent()).toMatch(/signed in as o_page_confirm/i);
  });

  it('the phone opens the link in a real browser: the script posts the fragment, clears it, and the tap signs in', async () => {
    const page = await open();
    const { ticket } = await shownTicket(page);
    const scanned = await scan(app.url, { scene: ticket, openid: 'o_page_real_phone' });
    const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 } });
    contexts.push(phone);
    const tab = await phone.newPage();
    await tab.goto(linkIn(scanned.reply)!);
    await tab.getByRole('button', { name: /Confirm/ }).waitFor({ timeout: 15_000 });
    // The token left the address bar (and history) before anything else; the cookie binds this device.
    expect(new URL(tab.url()).hash).toBe('');
    expect((await phone.cookies()).find((c) => c.name === 'qrgate_confirm')?.sameSite).toBe('Strict');
    await tab.getByRole('button', { name: /Confirm/ }).click();
    await expect.poll(() => statusLine(page).textContent()).toMatch(/signed in as o_page_real_phone/i);
  });
});
