/**
 * The OpenID Connect login step inside WeChat (issue 11): in Chromium with WeChat's User-Agent, a relying party
 * (openid-client: discovery, PKCE, state, nonce) sends the browser to `/oidc/auth`; the interaction page offers
 * the one-tap button instead of the QR code; the simulator's authorize page sends the browser to the gateway's
 * callback, which finishes the interaction (not the gateway's own session), and the relying party gets a code
 * the token endpoint accepts, with `sub` = the openid and `amr` = `["wechat"]`. The interaction finishes once;
 * a refused consent, a bad code, a snapshot-mode user and a wrong state keep their pages and leave the
 * interaction open; a browser without the interaction's cookie cannot begin its login.
 */
import * as client from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS, WECHAT_IN_APP_UA } from '../../apps/wechat-sim/index.js';
import { launchChromium } from '../browser/chromium.js';
import { rsaKeyPem, startRpCallback, type RpCallback } from '../support/oidc-rp.js';
import { startTestStandalone } from '../support/standalone.js';

const ALICE = DEMO_USERS.find((u) => u.name === 'Alice')!;
const CALLBACK = '/spa/cb';

describe('the OpenID Connect login step inside WeChat, in Chromium', () => {
  let browser: Browser;
  let app: Standalone;
  let rp: RpCallback;
  let config: client.Configuration;

  beforeAll(async () => {
    rp = await startRpCallback();
    const clients = [{ client_id: 'spa', token_endpoint_auth_method: 'none', redirect_uris: [`${rp.base}${CALLBACK}`] }];
    [browser, app] = await Promise.all([
      launchChromium(),
      startTestStandalone({ LOGIN_CONFIRMATION: 'tap', OIDC_CLIENTS: JSON.stringify(clients), OIDC_SIGNING_KEY: rsaKeyPem() }),
    ]);
    config = await client.discovery(new URL(`${app.url}/oidc`), 'spa', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await rp?.close();
  });

  /** Who is signed in to the simulated WeChat app, and whether its next authorization is a snapshot page. */
  const signInToWechat = (openid: string, snapshot = false) =>
    fetch(`${app.url}/sim/api/oauth`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ openid, snapshot }),
    });

  /** In a fresh WeChat browser, start an authorization request; returns the page at the interaction and the checks. */
  async function authorize() {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.base}${CALLBACK}`,
      scope: 'openid unionid',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const context = await browser.newContext({ userAgent: WECHAT_IN_APP_UA, locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(url.href);
    const interaction = new URL(page.url()).pathname;
    expect(interaction).toMatch(/^\/oidc\/interaction\/[A-Za-z0-9_-]+$/);
    return { context, page, interaction, verifier, state, nonce };
  }

  /** Tap the one-tap button and wait for the page that `landsOn` names. */
  async function tap(page: Page, landsOn: (url: URL) => boolean): Promise<void> {
    await Promise.all([page.waitForURL(landsOn), page.locator('#wechat-login').click()]);
  }

  /** The `state` this browser's in-WeChat login sent to WeChat (the HttpOnly cookie, as the browser holds it). */
  async function pendingState(context: BrowserContext): Promise<string> {
    // Its path is /auth/wechat: the cookies a request to the callback carries.
    const cookie = (await context.cookies(`${app.url}/auth/wechat/callback`)).find((c) => c.name === 'qrgate_wechat_auth');
    if (cookie === undefined) throw new Error('no in-WeChat login cookie');
    return (JSON.parse(Buffer.from(cookie.value, 'base64url').toString('utf8')) as { state: string }).state;
  }

  const callbackHits = (): number => rp.hits.filter((h) => h.pathname === CALLBACK).length;

  it('one tap, no QR code: the relying party gets a code for tokens with sub = openid, once', async () => {
    await signInToWechat(ALICE.openid);
    const { context, page, interaction, verifier, state, nonce } = await authorize();
    try {
      expect(await page.locator('img.qrgate-qr').count()).toBe(0);
      expect(await page.locator('#oidc-client').textContent()).toContain('spa');
      const button = page.locator('#wechat-login');
      expect(await button.textContent()).toBe('微信一键登录');
      expect(await button.getAttribute('href')).toBe(`${interaction}/wechat`);

      const visited: URL[] = [];
      page.on('request', (r) => visited.push(new URL(r.url())));
      const before = callbackHits();
      await tap(page, (u) => u.pathname === CALLBACK);
      const callback = await rp.next(CALLBACK);
      // Through the simulator's authorize page, the gateway's callback and the provider's resume.
      expect(visited.map((u) => u.pathname)).toEqual(
        expect.arrayContaining(['/connect/oauth2/authorize', '/auth/wechat/callback', expect.stringMatching(/^\/oidc\/auth\//)]),
      );
      expect(callback.searchParams.get('state')).toBe(state);

      const tokens = await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      expect(tokens.claims()).toMatchObject({ iss: `${app.url}/oidc`, sub: ALICE.openid, aud: 'spa', amr: ['wechat'] });
      expect(await client.fetchUserInfo(config, tokens.access_token, ALICE.openid)).toEqual({ sub: ALICE.openid, unionid: ALICE.unionid });

      // The interaction was finished instead of signing the browser in to the gateway's own session.
      expect((await context.cookies(app.url)).some((c) => c.name === 'qrgate_session')).toBe(false);
      // The browser's half of the login is spent (the cookie lives at /auth/wechat).
      expect((await context.cookies(`${app.url}/auth/wechat/callback`)).some((c) => c.name === 'qrgate_wechat_auth')).toBe(false);

      // Exactly once: the same callback again is refused with its page, and no second code reaches the client.
      const wechatCallback = visited.find((u) => u.pathname === '/auth/wechat/callback')!;
      const again = await page.goto(wechatCallback.href);
      expect(again?.status()).toBe(400);
      expect(await page.locator('#wechat-login-refused').textContent()).toBe('登录链接无效');
      expect(callbackHits()).toBe(before + 1);
    } finally {
      await context.close();
    }
  });

  it('refusals keep their pages and leave the interaction open; it then finishes with one tap', async () => {
    const { context, page, interaction, verifier, state, nonce } = await authorize();
    const before = callbackHits();
    const beginPage = (u: URL): boolean => u.pathname === `${interaction}/wechat`;
    /** The refusal page, whose way back is the interaction's own page. */
    const refusal = async (title: string): Promise<void> => {
      expect(await page.locator('#wechat-login-refused').textContent()).toBe(title);
      expect(await page.locator('#back').getAttribute('href')).toBe(interaction);
    };
    try {
      // A snapshot-mode user (virtual openid): refused, nothing finished.
      await signInToWechat(ALICE.openid, true);
      const snapshot = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/wechat/callback');
      await tap(page, (u) => u.pathname === '/auth/wechat/callback');
      expect((await snapshot).status()).toBe(403);
      await refusal('请在微信中打开');
      await signInToWechat(ALICE.openid, false);

      // Consent refused: the user presses Deny on WeChat's page, which comes back with `state` and no code.
      // (The gateway's redirect to WeChat is taken as it is; only where the user goes next differs.)
      await page.locator('#back').click();
      await page.waitForURL((u) => u.pathname === interaction);
      await page.route(beginPage, async (route) => {
        const begun = await route.fetch({ maxRedirects: 0 });
        const deny = new URL(begun.headers()['location'] ?? '');
        expect(deny.pathname).toBe('/connect/oauth2/authorize');
        deny.pathname = '/connect/oauth2/authorize/deny';
        await route.fulfill({ response: begun, headers: { ...begun.headers(), location: deny.href } });
      });
      const denied = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/wechat/callback');
      await tap(page, (u) => u.pathname === '/auth/wechat/callback');
      expect((await denied).status()).toBe(200);
      await refusal('你没有同意授权');
      await page.unroute(beginPage);

      // A code WeChat never issued (or one used already): refused, nothing finished. The user leaves
      // WeChat's page, and a made-up code comes back with this browser's state.
      await page.locator('#back').click();
      await page.waitForURL((u) => u.pathname === interaction);
      await page.route(beginPage, async (route) => {
        const begun = await route.fetch({ maxRedirects: 0 });
        expect(begun.status()).toBe(302);
        const { location: _location, ...headers } = begun.headers();
        await route.fulfill({ status: 200, headers: { ...headers, 'content-type': 'text/html' }, body: '<p id="left">left WeChat</p>' });
      });
      await tap(page, beginPage);
      await page.unroute(beginPage);
      const pending = await pendingState(context);
      expect((await page.goto(`${app.url}/auth/wechat/callback?code=notacodewechatissued&state=${pending}`))?.status()).toBe(400);
      await refusal('登录链接已失效');

      // A wrong state: 400, nothing exchanged.
      await page.locator('#back').click();
      await page.waitForURL((u) => u.pathname === interaction);
      expect((await page.goto(`${app.url}/auth/wechat/callback?code=abc&state=${'0'.repeat(32)}`))?.status()).toBe(400);
      expect(await page.locator('#wechat-login-refused').textContent()).toBe('登录链接无效');
      expect(callbackHits()).toBe(before);

      // The interaction is still open: one tap finishes it.
      await page.goto(`${app.url}${interaction}`);
      await tap(page, (u) => u.pathname === CALLBACK);
      const tokens = await client.authorizationCodeGrant(config, await rp.next(CALLBACK), {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      expect(tokens.claims()).toMatchObject({ sub: ALICE.openid, amr: ['wechat'] });
      expect(callbackHits()).toBe(before + 1);
    } finally {
      await signInToWechat(ALICE.openid, false);
      await context.close();
    }
  });

  it("a browser without the interaction's cookie cannot begin its in-WeChat login", async () => {
    const victim = await authorize();
    // Another browser (say, a link someone else sent) opening the one-tap target of that interaction.
    const other = await browser.newContext({ userAgent: WECHAT_IN_APP_UA });
    try {
      const page = await other.newPage();
      const answer = await page.goto(`${app.url}${victim.interaction}/wechat`);
      expect(answer?.status()).toBe(400);
      expect(new URL(page.url()).pathname).toBe(`${victim.interaction}/wechat`);
      expect(await page.locator('#start-over').count()).toBe(1);
      expect((await other.cookies(`${app.url}/auth/wechat/callback`)).some((c) => c.name === 'qrgate_wechat_auth')).toBe(false);
    } finally {
      await other.close();
      await victim.context.close();
    }
  });

  it("a rewritten cookie cannot make one's own login finish someone else's interaction", async () => {
    await signInToWechat(ALICE.openid);
    const victim = await authorize();
    const attacker = await authorize();
    const beginPage = (u: URL): boolean => u.pathname === `${attacker.interaction}/wechat`;
    try {
      // The attacker begins the in-WeChat login of their own interaction, and stops before WeChat's page.
      let wechatAuthorize = '';
      await attacker.page.route(beginPage, async (route) => {
        const begun = await route.fetch({ maxRedirects: 0 });
        wechatAuthorize = begun.headers()['location'] ?? '';
        const { location: _location, ...headers } = begun.headers();
        await route.fulfill({ status: 200, headers: { ...headers, 'content-type': 'text/html' }, body: '<p>stopped</p>' });
      });
      await tap(attacker.page, beginPage);
      expect(wechatAuthorize).toMatch(/\/connect\/oauth2\/authorize\?/);
      // Their (HttpOnly, unsigned) cookie now names the victim's interaction instead of their own.
      const [cookie] = (await attacker.context.cookies(`${app.url}/auth/wechat/callback`)).filter((c) => c.name === 'qrgate_wechat_auth');
      const value = JSON.parse(Buffer.from(cookie!.value, 'base64url').toString('utf8')) as Record<string, unknown>;
      value['interaction'] = victim.interaction.split('/').pop();
      await attacker.context.addCookies([{ ...cookie!, value: Buffer.from(JSON.stringify(value)).toString('base64url') }]);

      const before = callbackHits();
      const refused = attacker.page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/wechat/callback');
      await attacker.page.goto(wechatAuthorize);
      expect((await refused).status()).toBe(400);
      expect(await attacker.page.locator('#wechat-login-refused').textContent()).toBe('登录链接无效');
      expect(callbackHits()).toBe(before);

      // The victim's interaction is untouched: their own tap finishes it, as them.
      await tap(victim.page, (u) => u.pathname === CALLBACK);
      const tokens = await client.authorizationCodeGrant(config, await rp.next(CALLBACK), {
        pkceCodeVerifier: victim.verifier,
        expectedState: victim.state,
        expectedNonce: victim.nonce,
      });
      expect(tokens.claims()).toMatchObject({ sub: ALICE.openid, amr: ['wechat'] });
    } finally {
      await attacker.context.close();
      await victim.context.close();
    }
  });
});
