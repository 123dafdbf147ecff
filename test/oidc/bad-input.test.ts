/**
 * What the provider does with bad input, and nothing more: an unknown client_id or an unregistered redirect_uri
 * get an error page, never a redirect; an unknown scope or response type gets an error redirect to the client;
 * a reused code gets `invalid_grant` and the tokens it produced are revoked; a wrong PKCE verifier gets
 * `invalid_grant`; an expired or cookie-less interaction gets a page that starts over; the login step refuses a
 * code without its browser's secret. No secret, code or token appears in a log line.
 */
import { Writable } from 'node:stream';
import * as client from 'openid-client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS } from '../../apps/wechat-sim/index.js';
import { loadConfig } from '../../libs/config/index.js';
import { LoginBrowser } from '../support/login-browser.js';
import { rsaKeyPem } from '../support/oidc-rp.js';
import { scan } from '../support/phone.js';

const REDIRECT = 'https://rp.example.test/cb';
const SECRET = 'confidential-secret-0123456789-abcdefgh';
const ALICE = DEMO_USERS[0]!.openid;

/** A browser without a DOM: a cookie jar and manual redirects. */
class Jar {
  private cookies = new Map<string, string>();
  async get(url: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: this.header() },
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

describe('OpenID Connect provider: bad input', () => {
  let app: Standalone;
  let issuer: string;
  let config: client.Configuration;
  const logged: string[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged.push(String(chunk));
        done();
      },
    });
    const clients = [{ client_id: 'shop', client_secret: SECRET, redirect_uris: [REDIRECT] }];
    app = await startStandalone(
      loadConfig({
        PORT: '0',
        HOST: '127.0.0.1',
        LOGIN_CONFIRMATION: 'scan',
        OIDC_CLIENTS: JSON.stringify(clients),
        OIDC_SIGNING_KEY: rsaKeyPem(),
      }),
      { logger: pino({ level: 'debug' }, sink) },
    );
    issuer = `${app.url}/oidc`;
    config = await client.discovery(new URL(issuer), 'shop', SECRET, undefined, { execute: [client.allowInsecureRequests] });
  });
  afterAll(async () => {
    await app?.close();
  });

  const authUrl = (params: Record<string, string>): string => `${issuer}/auth?${new URLSearchParams(params)}`;
  const good = { client_id: 'shop', redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 's1' };

  /** Sign Alice in through the login step over HTTP; returns the callback URL and the PKCE verifier. */
  async function signIn(jar = new Jar()): Promise<{ callback: URL; verifier: string; jar: Jar }> {
    const verifier = client.randomPKCECodeVerifier();
    const started = await jar.get(
      authUrl({ ...good, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }),
    );
    expect(started.status).toBe(303);
    const step = new URL(started.headers.get('location')!, app.url);
    expect(step.pathname).toMatch(/^\/oidc\/interaction\//);
    expect((await jar.get(step.href)).status).toBe(200);
    const browser = await LoginBrowser.open(app.url);
    try {
      await scan(app.url, { scene: browser.ticket.ticket, openid: ALICE });
      const login = await browser.waitFor('login');
      const finish = await jar.get(`${step.href}/finish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: (login as { code: string }).code, secret: browser.ticket.secret }),
      });
      expect(finish.status).toBe(200);
      let next = new URL(((await finish.json()) as { redirectTo: string }).redirectTo);
      for (let hops = 0; !next.href.startsWith(REDIRECT) && hops < 5; hops++)
        next = new URL((await jar.get(next.href)).headers.get('location')!, app.url);
      return { callback: next, verifier, jar };
    } finally {
      browser.close();
    }
  }

  it('shows an error page, never a redirect, for an unknown client_id or an unregistered redirect_uri', async () => {
    for (const params of [
      { ...good, client_id: 'nobody' },
      { ...good, redirect_uri: 'https://evil.example.test/cb' },
    ]) {
      const res = await fetch(authUrl(params), { redirect: 'manual' });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      const page = await res.text();
      expect(page).toMatch(/invalid_client|invalid_redirect_uri/);
      expect(page).not.toContain('evil.example.test');
    }
  });

  it('redirects an unknown scope or response type back to the client as an error', async () => {
    const badScope = await fetch(authUrl({ ...good, scope: 'openid admin' }), { redirect: 'manual' });
    expect(badScope.status).toBe(303);
    const scopeError = new URL(badScope.headers.get('location')!);
    expect(scopeError.origin + scopeError.pathname).toBe(REDIRECT);
    expect(scopeError.searchParams.get('error')).toBe('invalid_scope');
    expect(scopeError.searchParams.get('state')).toBe('s1');
    for (const responseType of ['token', 'id_token', 'code token']) {
      const res = await fetch(authUrl({ ...good, response_type: responseType }), { redirect: 'manual' });
      expect(res.status).toBe(303);
      const target = new URL(res.headers.get('location')!);
      expect(target.origin + target.pathname).toBe(REDIRECT);
      // The error of a response type that is not `code` comes in the fragment or query, as the spec says.
      const params = new URLSearchParams(target.hash.slice(1) || target.search);
      expect(params.get('error')).toMatch(/^(unsupported_response_type|unauthorized_client)$/);
      expect(params.get('code')).toBeNull();
      expect(params.get('access_token')).toBeNull();
    }
  });

  it('refuses a wrong PKCE verifier with invalid_grant, and the right one still works once', async () => {
    const { callback, verifier } = await signIn();
    await expect(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: 's1' }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' });
    expect(tokens.claims()?.sub).toBe(ALICE);
  });

  it('refuses a reused code with invalid_grant and revokes the tokens it produced', async () => {
    const { callback, verifier } = await signIn();
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' });
    expect((await client.fetchUserInfo(config, tokens.access_token, ALICE)).sub).toBe(ALICE);
    await expect(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' }),
    ).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    await expect(client.fetchUserInfo(config, tokens.access_token, ALICE)).rejects.toThrow();
  });

  it('lets only one of two simultaneous redemptions of a code through', async () => {
    const { callback, verifier } = await signIn();
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map(() => client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' })),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const lost of outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected')) {
      expect(lost.reason).toMatchObject({ error: 'invalid_grant' });
    }
  });

  it('starts an expired or cookie-less interaction over with the same authorization request', async () => {
    const jar = new Jar();
    const started = await jar.get(
      authUrl({ ...good, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }),
    );
    const step = new URL(started.headers.get('location')!, app.url);
    // Another browser (no interaction cookie) opening the link: no QR code, a page that starts over.
    const stranger = await fetch(step.href);
    expect(stranger.status).toBe(400);
    const page = await stranger.text();
    expect(page).not.toContain('qrgate-login');
    const restart = /id="start-over" href="([^"]+)"/.exec(page)?.[1]?.replace(/&amp;/g, '&');
    expect(restart).toBeDefined();
    const again = await new Jar().get(new URL(restart!, app.url).href);
    expect(again.status).toBe(303);
    expect(new URL(again.headers.get('location')!, app.url).pathname).toMatch(/^\/oidc\/interaction\//);
    // An unknown interaction has nothing to restart: the page says to go back.
    const unknown = await fetch(`${issuer}/interaction/nope`);
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain('Go back to the site');
    // The finish endpoint of a cookie-less browser: 410, nothing consumed.
    const finish = await fetch(`${step.href}/finish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"code":"x","secret":"y"}',
    });
    expect(finish.status).toBe(410);
  });

  it("refuses, at the login step, a login code without its browser's secret", async () => {
    const jar = new Jar();
    const started = await jar.get(
      authUrl({ ...good, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' }),
    );
    const step = new URL(started.headers.get('location')!, app.url);
    const browser = await LoginBrowser.open(app.url);
    try {
      await scan(app.url, { scene: browser.ticket.ticket, openid: ALICE });
      const login = (await browser.waitFor('login')) as { code: string };
      const post = (secret: string) =>
        jar.get(`${step.href}/finish`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ code: login.code, secret }),
        });
      expect((await post('not-the-secret-of-this-browser-0000000000000')).status).toBe(401);
      // The refusal changed nothing: the right browser still finishes.
      expect((await post(browser.ticket.secret)).status).toBe(200);
      // The code is single-use: posting it again is refused.
      expect((await post(browser.ticket.secret)).status).toBe(401);
    } finally {
      browser.close();
    }
  });

  it('writes no secret, code or token into the logs', async () => {
    const { callback, verifier } = await signIn();
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' });
    await client.fetchUserInfo(config, tokens.access_token, ALICE);
    const text = logged.join('');
    expect(text).toContain('oidc login finished');
    for (const secret of [SECRET, callback.searchParams.get('code')!, tokens.access_token, tokens.id_token!])
      expect(text).not.toContain(secret);
  });
});
