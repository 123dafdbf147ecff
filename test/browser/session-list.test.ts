/**
 * Issue 12 on the demo's signed-in page, in real Chromium: once signed in, the page lists the user's
 * sessions with "sign out" on each; another browser of the same user signs this one out, and the page shows
 * at once that it ended (pushed over `/session`), while the other page lists only itself. The page that was
 * signed in first hears the second sign-in (`session_started`).
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { scan } from '../support/phone.js';
import { chromiumAndStandalone, shownTicket, snapshot } from './chromium.js';

describe('the signed-in page lists sessions and reacts live', () => {
  const demo = chromiumAndStandalone({ LOGIN_CONFIRMATION: 'scan' });

  /** A fresh browser (its own cookies) signed in as `openid` through the QR code. */
  async function signedIn(openid: string): Promise<Page> {
    const context = await demo.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${demo.app.url}/`);
    const { ticket } = await shownTicket(page);
    await scan(demo.app.url, { scene: ticket, openid });
    await expect.poll(() => page.locator('body').getAttribute('data-session'), { timeout: 15_000 }).toBe('live');
    return page;
  }

  it('signs one browser out from another: the signed-out page says so, the other lists only itself', async () => {
    const first = await signedIn('o_two_pages');
    await expect.poll(() => first.locator('#session-list li').count(), { timeout: 15_000 }).toBe(1);
    const second = await signedIn('o_two_pages');
    await expect.poll(() => second.locator('#session-list li').count(), { timeout: 15_000 }).toBe(2);
    // The first page heard about the second sign-in and lists it too.
    await expect.poll(() => first.locator('#session-notice').textContent(), { timeout: 15_000 }).toMatch(/^New sign-in: /);
    await expect.poll(() => first.locator('#session-list li').count(), { timeout: 15_000 }).toBe(2);
    expect(await second.locator('#session-list li[data-current="true"] span').textContent()).toMatch(/\(this browser\)$/);
    await snapshot(second, 'sessions-two-browsers');

    // From the second browser: sign the first one out.
    await second.locator('#session-list li:not([data-current]) button').click();
    await expect.poll(() => first.locator('body').getAttribute('data-session'), { timeout: 15_000 }).toBe('ended');
    expect(await first.locator('#session-notice').textContent()).toBe('You were signed out of this browser.');
    expect(await first.locator('#session-list li').count()).toBe(0);
    await snapshot(first, 'sessions-signed-out');

    await expect.poll(() => second.locator('#session-list li').count(), { timeout: 15_000 }).toBe(1);
    expect(await second.locator('body').getAttribute('data-session')).toBe('live');
    // The ended browser's cookie no longer opens anything; the other's still does.
    const statusOf = async (page: Page): Promise<number> => {
      const cookie = (await page.context().cookies(demo.app.url)).find((c) => c.name === 'qrgate_session');
      return (await fetch(`${demo.app.url}/api/session`, { headers: { cookie: `qrgate_session=${cookie?.value ?? ''}` } })).status;
    };
    expect(await statusOf(first)).toBe(401);
    expect(await statusOf(second)).toBe(200);
  });
});
