/**
 * The simulator's phone page opens the site in WeChat (issue 11 item 2): in Chromium with WeChat's User-Agent
 * (the phone is inside WeChat), "Open the site in WeChat" signs the picked user in to the simulated WeChat app
 * and opens the gateway's login page, which offers the one-tap button; following it ends signed in as that
 * user. Its snapshot switch gets the snapshot refusal; a browser without WeChat's User-Agent is told why the
 * site will show its QR code, and how to try the one-tap path.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS, WECHAT_IN_APP_UA } from '../../apps/wechat-sim/index.js';
import { startTestStandalone } from '../support/standalone.js';
import { launchChromium } from './chromium.js';

const BOB = DEMO_USERS.find((u) => u.name === 'Bob')!;

describe("the simulator's phone opens the site in WeChat, in Chromium", () => {
  let browser: Browser;
  let app: Standalone;
  beforeAll(async () => {
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone({ LOGIN_CONFIRMATION: 'tap' })]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  /** The phone page in `context`, with `name` picked as "You are", then the site it opens (default: the gateway's). */
  async function openSite(context: BrowserContext, name: string, options: { snapshot?: boolean; site?: string } = {}): Promise<Page> {
    const phone = await context.newPage();
    await phone.goto(`${app.url}/sim`);
    await phone.locator('#users button.user', { hasText: name }).click();
    expect(await phone.locator('#site-url').inputValue()).toBe(`${app.url}/`);
    if (options.site !== undefined) await phone.locator('#site-url').fill(options.site);
    if (options.snapshot === true) await phone.locator('#snapshot').check();
    const [site] = await Promise.all([context.waitForEvent('page'), phone.locator('#open-site').click()]);
    await site.waitForLoadState();
    expect(site.url()).toBe(options.site ?? `${app.url}/`);
    return site;
  }

  it('opens the login page with the one-tap button; one tap ends signed in as the picked user', async () => {
    const context = await browser.newContext({ userAgent: WECHAT_IN_APP_UA, locale: 'zh-CN' });
    try {
      const site = await openSite(context, 'Bob');
      expect(await site.locator('img.qrgate-qr').count()).toBe(0);
      const callback = site.waitForResponse((r) => new URL(r.url()).pathname === '/auth/wechat/callback');
      await site.locator('#wechat-login').click();
      expect((await callback).status()).toBe(302);
      await site.waitForURL(`${app.url}/`);

      const session = (await context.cookies(app.url)).find((c) => c.name === 'qrgate_session');
      const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: [] };
      const { payload } = await jwtVerify(session?.value ?? '', createLocalJWKSet(jwks));
      expect(payload.sub).toBe(BOB.openid);
    } finally {
      await context.close();
    }
  });

  it('with its snapshot switch on, the site refuses the virtual user', async () => {
    const context = await browser.newContext({ userAgent: WECHAT_IN_APP_UA, locale: 'zh-CN' });
    try {
      const site = await openSite(context, 'Bob', { snapshot: true });
      const callback = site.waitForResponse((r) => new URL(r.url()).pathname === '/auth/wechat/callback');
      await site.locator('#wechat-login').click();
      expect((await callback).status()).toBe(403);
      expect(await site.locator('#wechat-login-refused').textContent()).toBe('请在微信中打开');
      expect((await context.cookies(app.url)).some((c) => c.name === 'qrgate_session')).toBe(false);
    } finally {
      // The switch is the simulator's, shared by the whole file: off again.
      await fetch(`${app.url}/sim/api/oauth`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ snapshot: false }),
      });
      await context.close();
    }
  });

  it('opened at the demo site, one tap signs in through the OpenID Connect provider (amr wechat)', async () => {
    const context = await browser.newContext({ userAgent: WECHAT_IN_APP_UA, locale: 'en-US' });
    try {
      const site = await openSite(context, 'Bob', { site: `${app.url}/demo-rp/` });
      await site.locator('#demo-rp-sign-in').click();
      await site.waitForURL((u) => u.pathname.startsWith('/oidc/interaction/'));
      expect(await site.locator('#oidc-client').textContent()).toContain('qrgate-demo-rp');
      await site.locator('#wechat-login').click();
      await site.locator('#demo-rp-signed-in').waitFor({ timeout: 30_000 });
      expect(await site.locator('#demo-rp-sub').textContent()).toBe(BOB.openid);
      const claims = JSON.parse((await site.locator('#demo-rp-claims').textContent()) ?? '{}') as Record<string, unknown>;
      expect(claims).toMatchObject({ iss: `${app.url}/oidc`, aud: 'qrgate-demo-rp', sub: BOB.openid, amr: ['wechat'] });
    } finally {
      await context.close();
    }
  });

  it("outside WeChat's User-Agent the page says why the site shows its QR code, and how to try one tap", async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    try {
      const phone = await context.newPage();
      await phone.goto(`${app.url}/sim`);
      await expect.poll(() => phone.locator('#ua-note').isVisible()).toBe(true);
      expect(await phone.locator('#wechat-ua').inputValue()).toBe(WECHAT_IN_APP_UA);
      const inWechat = await browser.newContext({ userAgent: WECHAT_IN_APP_UA });
      const inside = await inWechat.newPage();
      await inside.goto(`${app.url}/sim`);
      expect(await inside.locator('#ua-note').isVisible()).toBe(false);
      await inWechat.close();
    } finally {
      await context.close();
    }
  });
});
