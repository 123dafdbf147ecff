/**
 * A relying party that knows nothing of qrgate signs a user in by discovery alone: openid-client (discovery,
 * PKCE S256, state and nonce, code exchange, ID token and userinfo checks) drives real Chromium through the QR
 * page at `/oidc/interaction/<uid>`, on the one-process memory engine, in `scan` and `tap` modes. Also the
 * provider's other endpoints: JWKS (RS256), refresh-token rotation, revocation and RP-initiated logout.
 */
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS } from '../../apps/wechat-sim/index.js';
import { launchChromium } from '../browser/chromium.js';
import { rsaKeyPem, scanLoginStep, startRpCallback, type RpCallback } from '../support/oidc-rp.js';
import { startTestStandalone } from '../support/standalone.js';

const ALICE = DEMO_USERS.find((u) => u.name === 'Alice')!;
const BOB = DEMO_USERS.find((u) => u.name === 'Bob')!;
const SHOP_SECRET = 'shop-secret-0123456789-0123456789-abcdef';

describe.each(['scan', 'tap'] as const)('openid-client signs in through the QR page (%s mode)', (mode) => {
  let browser: Browser;
  let app: Standalone;
  let rp: RpCallback;
  let issuer: string;

  beforeAll(async () => {
    rp = await startRpCallback();
    const clients = [
      // A public client (PKCE required) and a confidential one allowed refresh tokens.
      {
        client_id: 'spa',
        token_endpoint_auth_method: 'none',
        redirect_uris: [`${rp.base}/spa/cb`],
        post_logout_redirect_uris: [`${rp.base}/bye`],
      },
      {
        client_id: 'shop',
        client_secret: SHOP_SECRET,
        redirect_uris: [`${rp.base}/shop/cb`],
        grant_types: ['authorization_code', 'refresh_token'],
      },
    ];
    [browser, app] = await Promise.all([
      launchChromium(),
      startTestStandalone({ LOGIN_CONFIRMATION: mode, OIDC_CLIENTS: JSON.stringify(clients), OIDC_SIGNING_KEY: rsaKeyPem() }),
    ]);
    issuer = `${app.url}/oidc`;
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await rp?.close();
  });

  async function discover(clientId: string, secret?: string): Promise<client.Configuration> {
    return client.discovery(new URL(issuer), clientId, secret, secret === undefined ? client.None() : undefined, {
      execute: [client.allowInsecureRequests],
    });
  }

  /** Start an authorization request in a fresh browser; returns the page, at the login step, and the checks. */
  async function authorize(config: client.Configuration, redirectUri: string, scope = 'openid unionid') {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope,
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(url.href);
    return { page, verifier, state, nonce };
  }

  async function signIn(page: Page, openid: string, callbackPath: string): Promise<URL> {
    expect(new URL(page.url()).pathname).toMatch(/^\/oidc\/interaction\/[A-Za-z0-9_-]+$/);
    await scanLoginStep(page, app.url, openid, mode === 'tap');
    const callback = await rp.next(callbackPath);
    await page.waitForURL((u) => u.pathname === callbackPath);
    return callback;
  }

  it('publishes discovery: code flow with S256 PKCE only, RS256 ID tokens, no registration', async () => {
    const config = await discover('spa');
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(issuer);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.id_token_signing_alg_values_supported).toEqual(['RS256']);
    expect(meta.registration_endpoint).toBeUndefined();
    expect(meta.grant_types_supported).not.toContain('implicit');
    for (const key of ['jwks_uri', 'userinfo_endpoint', 'revocation_endpoint', 'end_session_endpoint'] as const) {
      expect(meta[key]).toMatch(new RegExp(`^${issuer}/`));
    }
    const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('signs a public client in with PKCE: ID token (sub, amr) verified against jwks_uri, userinfo with unionid', async () => {
    const config = await discover('spa');
    const { page, verifier, state, nonce } = await authorize(config, `${rp.base}/spa/cb`);
    expect(await page.locator('#oidc-client').textContent()).toContain('spa');
    const callback = await signIn(page, ALICE.openid, '/spa/cb');
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(issuer);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    const claims = tokens.claims()!;
    expect(claims).toMatchObject({ iss: issuer, sub: ALICE.openid, aud: 'spa', amr: mode === 'tap' ? ['scan', 'tap'] : ['scan'] });
    expect(decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256');
    const verified = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!)), {
      issuer,
      audience: 'spa',
    });
    expect(verified.payload.sub).toBe(ALICE.openid);
    const info = await client.fetchUserInfo(config, tokens.access_token, ALICE.openid);
    expect(info).toEqual({ sub: ALICE.openid, unionid: ALICE.unionid });
    expect(tokens.refresh_token).toBeUndefined();
    await page.context().close();
  });

  it('gives no unionid claim to a user WeChat has none for, and none without the scope', async () => {
    const config = await discover('spa');
    const bob = await authorize(config, `${rp.base}/spa/cb`);
    const bobTokens = await client.authorizationCodeGrant(config, await signIn(bob.page, BOB.openid, '/spa/cb'), {
      pkceCodeVerifier: bob.verifier,
      expectedState: bob.state,
      expectedNonce: bob.nonce,
    });
    expect(await client.fetchUserInfo(config, bobTokens.access_token, BOB.openid)).toEqual({ sub: BOB.openid });
    await bob.page.context().close();
    const alice = await authorize(config, `${rp.base}/spa/cb`, 'openid');
    const aliceTokens = await client.authorizationCodeGrant(config, await signIn(alice.page, ALICE.openid, '/spa/cb'), {
      pkceCodeVerifier: alice.verifier,
      expectedState: alice.state,
      expectedNonce: alice.nonce,
    });
    expect(await client.fetchUserInfo(config, aliceTokens.access_token, ALICE.openid)).toEqual({ sub: ALICE.openid });
    await alice.page.context().close();
  });

  it('rotates refresh tokens for a client allowed them; a replayed refresh token is refused; revocation works', async () => {
    const config = await discover('shop', SHOP_SECRET);
    const { page, verifier, state, nonce } = await authorize(config, `${rp.base}/shop/cb`, 'openid');
    const tokens = await client.authorizationCodeGrant(config, await signIn(page, ALICE.openid, '/shop/cb'), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(rotated.refresh_token).toEqual(expect.any(String));
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Revoking the access token ends its use at userinfo.
    const fresh = await client.refreshTokenGrant(config, rotated.refresh_token!).catch((e: unknown) => e);
    // The replay above revoked the whole grant (RFC 9700 §4.14.2): the rotated token is gone too.
    expect(fresh).toMatchObject({ error: 'invalid_grant' });
    await page.context().close();

    const again = await authorize(config, `${rp.base}/shop/cb`, 'openid');
    const second = await client.authorizationCodeGrant(config, await signIn(again.page, ALICE.openid, '/shop/cb'), {
      pkceCodeVerifier: again.verifier,
      expectedState: again.state,
      expectedNonce: again.nonce,
    });
    expect((await client.fetchUserInfo(config, second.access_token, ALICE.openid)).sub).toBe(ALICE.openid);
    await client.tokenRevocation(config, second.access_token);
    await expect(client.fetchUserInfo(config, second.access_token, ALICE.openid)).rejects.toThrow();
    await again.page.context().close();
  });

  it('ends the session at end_session_endpoint and returns to the registered post-logout URI', async () => {
    const config = await discover('spa');
    const { page, verifier, state, nonce } = await authorize(config, `${rp.base}/spa/cb`, 'openid');
    const tokens = await client.authorizationCodeGrant(config, await signIn(page, ALICE.openid, '/spa/cb'), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    // Signed in at the provider: a second authorization request comes straight back with a code.
    const silent = client.buildAuthorizationUrl(config, {
      redirect_uri: `${rp.base}/spa/cb`,
      scope: 'openid',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    await page.goto(silent.href);
    expect((await rp.next('/spa/cb')).searchParams.get('code')).toEqual(expect.any(String));
    const logout = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: `${rp.base}/bye`,
      state: 'bye-state',
    });
    await page.goto(logout.href);
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    expect((await rp.next('/bye')).searchParams.get('state')).toBe('bye-state');
    // Signed out: the next authorization request needs the QR page again.
    await page.goto(silent.href);
    expect(new URL(page.url()).pathname).toMatch(/^\/oidc\/interaction\//);
    await page.context().close();
  });
});
