/**
 * Issue 12, from the phone: the reply after a login links to a gateway page listing that WeChat user's
 * signed-in browsers. In Chromium, the phone opens the link and signs one desktop browser out: that
 * browser's page shows at once that it ended, the other stays signed in. Then the simulator's phone follows
 * the same link and signs out everywhere.
 */
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { WECHAT_IN_APP_UA, followLink, linkIn, scan } from '../support/phone.js';
import { chromiumAndStandalone, shownTicket, snapshot } from './chromium.js';

describe('signing a browser out from the phone', () => {
  const demo = chromiumAndStandalone({ LOGIN_CONFIRMATION: 'scan' });

  const context = (options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> =>
    demo.newContext({ locale: 'en-US', ...options });

  /** A desktop browser signed in as `openid`; the scan's reply text comes back with it. */
  async function signedIn(openid: string): Promise<{ page: Page; sid: string; reply: string | null }> {
    const page = await (await context()).newPage();
    await page.goto(`${demo.app.url}/`);
    const { ticket } = await shownTicket(page);
    const scanned = await scan(demo.app.url, { scene: ticket, openid });
    await expect.poll(() => page.locator('body').getAttribute('data-session'), { timeout: 15_000 }).toBe('live');
    const cookie = (await page.context().cookies(demo.app.url)).find((c) => c.name === 'qrgate_session');
    return { page, sid: String(decodeJwt(cookie!.value).sid), reply: scanned.reply };
  }

  it('lists the browsers on the phone, signs one out there, and the simulator signs out everywhere', async () => {
    const first = await signedIn('o_phone_user');
    const second = await signedIn('o_phone_user');
    const link = linkIn(second.reply);
    expect(second.reply).toMatch(/Not you\? Sign it out here: http/);
    expect(link).toMatch(/\/sessions\/phone#t=[\w-]{43}$/);

    const phone = await (await context({ userAgent: WECHAT_IN_APP_UA, viewport: { width: 390, height: 844 } })).newPage();
    await phone.goto(link!);
    await phone.locator('#phone-sessions').waitFor({ timeout: 15_000 });
    // The token left the address bar before anything else.
    expect(new URL(phone.url()).hash).toBe('');
    expect(await phone.locator('#phone-sessions li').count()).toBe(2);
    await snapshot(phone, 'phone-sessions');

    await phone.locator(`#phone-sessions li[data-sid="${first.sid}"] button`).click();
    await expect.poll(() => phone.locator('#notice').textContent(), { timeout: 15_000 }).toMatch(/That browser is signed out/);
    expect(await phone.locator('#phone-sessions li').count()).toBe(1);
    await expect.poll(() => first.page.locator('body').getAttribute('data-session'), { timeout: 15_000 }).toBe('ended');
    expect(await first.page.locator('#session-notice').textContent()).toBe('You were signed out of this browser.');
    expect(await second.page.locator('body').getAttribute('data-session')).toBe('live');

    // The simulator's phone follows the same link and taps "sign out everywhere".
    const followed = await followLink(link!, 'end_all');
    expect(followed.page.status).toBe(200);
    expect(followed.submitted?.status).toBe(200);
    expect(followed.submitted?.body).toMatch(/Every browser is signed out/);
    await expect.poll(() => second.page.locator('body').getAttribute('data-session'), { timeout: 15_000 }).toBe('ended');
  });

  it('refuses a link that names no live capability (410) and a cross-site post (403)', async () => {
    const post = (fields: Record<string, string>, origin?: string) =>
      fetch(`${demo.app.url}/sessions/phone`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin !== undefined ? { origin } : {}) },
        body: new URLSearchParams(fields).toString(),
      });
    expect((await post({ t: 'A'.repeat(43), action: 'open' })).status).toBe(410);
    expect((await post({ t: 'A'.repeat(43), action: 'end_all' }, 'https://evil.example')).status).toBe(403);
    expect((await post({ t: 'x', action: 'drop_tables' })).status).toBe(400);
  });
});
