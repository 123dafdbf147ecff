/**
 * In Chromium with WeChat's User-Agent, the login page signs in through the simulator's authorization pages
 * without a QR code: the one-tap button, WeChat's authorize page (its script checks `#wechat_redirect`), the
 * callback, and the page `redirect` names, with the session cookie set.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS, WECHAT_IN_APP_UA } from '../../apps/wechat-sim/index.js';
import { startTestStandalone } from '../support/standalone.js';
import { launchChromium } from './chromium.js';

describe('login inside WeChat, in Chromium', () => {
  let browser: Browser;
  let app: Standalone;
  beforeAll(async () => {
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone({ LOGIN_CONFIRMATION: 'tap' })]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('signs in with one tap and no QR code, and lands on the redirect', async () => {
    const openid = DEMO_USERS[1]?.openid ?? '';
    await fetch(`${app.url}/sim/api/oauth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ openid, snapshot: false }),
    });
    const context = await browser.newContext({ userAgent: WECHAT_IN_APP_UA, locale: 'zh-CN' });
    try {
      const page = await context.newPage();
      await page.goto(`${app.url}/?redirect=${encodeURIComponent('/.well-known/jwks.json')}`);
      expect(await page.locator('img.qrgate-qr').count()).toBe(0);
      const button = page.locator('#wechat-login');
      expect(await button.textContent()).toBe('微信一键登录');

      await Promise.all([page.waitForURL(`${app.url}/.well-known/jwks.json`), button.click()]);

      const session = (await context.cookies(app.url)).find((c) => c.name === 'qrgate_session');
      expect(session?.httpOnly).toBe(true);
      expect(session?.sameSite).toBe('Lax');
      const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: [] };
      const { payload } = await jwtVerify(session?.value ?? '', createLocalJWKSet(jwks));
      expect(payload.sub).toBe(openid);
      // The browser's half of the login is spent (its cookie lives at /auth/wechat, so ask for that path).
      expect((await context.cookies(`${app.url}/auth/wechat/callback`)).some((c) => c.name === 'qrgate_wechat_auth')).toBe(false);
    } finally {
      await context.close();
    }
  });

  it('outside WeChat the same authorize link shows "open in WeChat"', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${app.url}/auth/wechat`);
      expect(await page.locator('#open-in-wechat').textContent()).toBe('请在微信客户端打开链接');
    } finally {
      await context.close();
    }
  });
});
