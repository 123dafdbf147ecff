/**
 * The demo shows the whole OpenID Connect flow with no setup: `npm start`'s login page links to a sample
 * relying party, which signs in through /oidc (QR page, scan), shows the ID token's claims and userinfo, and
 * signs out through the provider's end_session endpoint. In real Chromium, both confirmation modes' default.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS } from '../../apps/wechat-sim/index.js';
import { launchChromium } from '../browser/chromium.js';
import { scanLoginStep } from '../support/oidc-rp.js';
import { startTestStandalone } from '../support/standalone.js';

const ALICE = DEMO_USERS.find((u) => u.name === 'Alice')!;

describe('demo relying party', () => {
  let browser: Browser;
  let app: Standalone;
  beforeAll(async () => {
    // The default demo: tap mode, the simulator, one registered demo client and a generated signing key.
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('signs in from the login page link through /oidc, shows the claims, and signs out', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(`${app.url}/`);
    await page.locator('#demo-rp-link').click();
    await page.waitForURL(`${app.url}/demo-rp/`);
    await page.locator('#demo-rp-sign-in').click();
    await page.waitForURL((u) => u.pathname.startsWith('/oidc/interaction/'));
    expect(await page.locator('#oidc-client').textContent()).toContain('qrgate-demo-rp');
    await scanLoginStep(page, app.url, ALICE.openid, true);
    await page.locator('#demo-rp-signed-in').waitFor({ timeout: 30_000 });
    expect(await page.locator('#demo-rp-sub').textContent()).toBe(ALICE.openid);
    const claims = JSON.parse((await page.locator('#demo-rp-claims').textContent())!) as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: `${app.url}/oidc`, aud: 'qrgate-demo-rp', sub: ALICE.openid, amr: ['scan', 'tap'] });
    expect(JSON.parse((await page.locator('#demo-rp-userinfo').textContent())!)).toEqual({ sub: ALICE.openid, unionid: ALICE.unionid });
    await page.locator('#demo-rp-sign-out').click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL(`${app.url}/demo-rp/`);
    await page.locator('#demo-rp-sign-in').waitFor();
    await context.close();
  });
});
