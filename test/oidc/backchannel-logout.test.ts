/**
 * Issue 12, OpenID Connect: a client the user signed in to through qrgate's provider is one of the user's
 * sessions. Ending it in qrgate (`DELETE /api/sessions/<sid>`) ends the provider's session, and the client,
 * which registered a `backchannel_logout_uri`, receives the OpenID Back-Channel Logout request: a loopback
 * receiver verifies the `logout_token` (signature against jwks_uri, iss, aud, sub, sid, events, no nonce).
 * Afterwards the provider asks the browser to sign in again instead of answering silently.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS } from '../../apps/wechat-sim/index.js';
import { launchChromium } from '../browser/chromium.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { rsaKeyPem, scanLoginStep, startRpCallback, type RpCallback } from '../support/oidc-rp.js';
import { startTestStandalone } from '../support/standalone.js';

const ALICE = DEMO_USERS.find((u) => u.name === 'Alice')!;
const SHOP_SECRET = 'shop-secret-0123456789-0123456789-abcdef';
const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** The client's back-channel endpoint: records every logout_token POSTed to it, answers 200. */
async function startReceiver(): Promise<{ url: string; tokens: string[]; close(): Promise<void> }> {
  const tokens: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (req.method === 'POST' && req.headers['content-type'] === 'application/x-www-form-urlencoded' && token !== null)
        tokens.push(token);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`,
    tokens,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('ending an OpenID Connect session in qrgate', () => {
  let browser: Browser;
  let app: Standalone;
  let rp: RpCallback;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let issuer: string;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [rp, receiver] = await Promise.all([startRpCallback(), startReceiver()]);
    const clients = [
      {
        client_id: 'shop',
        client_secret: SHOP_SECRET,
        redirect_uris: [`${rp.base}/shop/cb`],
        backchannel_logout_uri: receiver.url,
      },
    ];
    [browser, app] = await Promise.all([
      launchChromium(),
      startTestStandalone({ LOGIN_CONFIRMATION: 'scan', OIDC_CLIENTS: JSON.stringify(clients), OIDC_SIGNING_KEY: rsaKeyPem() }),
    ]);
    issuer = `${app.url}/oidc`;
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.close();
    await rp?.close();
    await receiver?.close();
  });

  it('ends the provider session and sends the client a verified back-channel logout token', async () => {
    const config = await client.discovery(new URL(issuer), 'shop', SHOP_SECRET, undefined, { execute: [client.allowInsecureRequests] });
    const authorizationUrl = async () => {
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: `${rp.base}/shop/cb`,
        scope: 'openid',
        state,
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      return { url, verifier, state, nonce };
    };

    // The user signs in to the shop through qrgate's provider.
    const context = await browser.newContext({ locale: 'en-US' });
    contexts.push(context);
    const page = await context.newPage();
    const first = await authorizationUrl();
    await page.goto(first.url.href);
    await scanLoginStep(page, app.url, ALICE.openid);
    const callback = await rp.next('/shop/cb');
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: first.verifier,
      expectedState: first.state,
      expectedNonce: first.nonce,
    });
    const oidcSid = tokens.claims()?.sid;
    expect(typeof oidcSid).toBe('string');

    // The same user on qrgate's own page, with a session token of their own.
    const desktop = await LoginBrowser.open(app.url);
    await scan(app.url, { scene: desktop.ticket.ticket, openid: ALICE.openid });
    const { code } = await desktop.waitFor('login');
    const { body } = await desktop.exchange(code);
    desktop.close();
    const auth = { authorization: `Bearer ${body.token}` };

    const listed = (await (await fetch(`${app.url}/api/sessions`, { headers: auth })).json()) as {
      sessions: Array<{ sid: string; method: string; client?: string; current: boolean }>;
    };
    expect(listed.sessions.map((s) => [s.method, s.client, s.current])).toEqual([
      ['oidc', 'shop', false],
      ['scan', undefined, true],
    ]);
    expect(listed.sessions[0]?.sid).toBe(oidcSid);

    const res = await fetch(`${app.url}/api/sessions/${String(oidcSid)}`, { method: 'DELETE', headers: auth });
    expect(res.status).toBe(204);
    const deadline = Date.now() + 15_000;
    while (receiver.tokens.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(receiver.tokens).toHaveLength(1);
    const { payload } = await jwtVerify(receiver.tokens[0]!, createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!)), {
      issuer,
      audience: 'shop',
    });
    expect(payload).toMatchObject({ sub: ALICE.openid, sid: oidcSid, events: { [BACKCHANNEL_EVENT]: {} } });
    expect(payload).not.toHaveProperty('nonce');
    expect(typeof payload.jti).toBe('string');

    // The provider forgot the session: the next authorization asks the browser to sign in again.
    const again = await authorizationUrl();
    await page.goto(again.url.href);
    await page.waitForURL((u) => u.pathname.startsWith('/oidc/interaction/'), { timeout: 15_000 });
    // The user's own qrgate session is untouched.
    expect((await fetch(`${app.url}/api/session`, { headers: auth })).status).toBe(200);
  });
});
