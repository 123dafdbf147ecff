/**
 * `unionid` where WeChat has one: each login looks it up once (the simulator's `cgi-bin/user/info`), and the
 * session token carries it as a claim; a user WeChat gives none gets a token without it, and a WeChat that
 * fails the lookup costs no login.
 */
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { simUnionidOf } from '../../apps/wechat-sim/index.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';

describe('unionid in the session token', () => {
  let app: Standalone;
  const browsers: LoginBrowser[] = [];
  beforeAll(async () => {
    app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan' });
  });
  afterAll(async () => {
    for (const b of browsers) b.close();
    await app?.close();
  });

  /** Log in as `openid` through the simulator's phone; the verified token payload and the user/info calls made. */
  async function loginAs(openid: string): Promise<{ payload: JWTPayload; userInfoCalls: number }> {
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    await browser.waitFor('status', (s) => s.status === 'pending');
    const before = app.sim?.stats().userInfoCalls ?? Number.NaN;
    await scan(app.url, { scene: browser.ticket.ticket, openid });
    const login = await browser.waitFor('login');
    const exchanged = await browser.exchange(login.code);
    expect(exchanged.status).toBe(200);
    const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: [] };
    const { payload } = await jwtVerify(exchanged.body.token, createLocalJWKSet(jwks));
    return { payload, userInfoCalls: (app.sim?.stats().userInfoCalls ?? Number.NaN) - before };
  }

  it('carries the unionid WeChat returns, looked up once for the login', async () => {
    const openid = 'oQgTest0Union000000000000001';
    const expected = simUnionidOf(openid);
    expect(expected).toMatch(/^oU[A-Za-z0-9_-]{26}$/);
    const { payload, userInfoCalls } = await loginAs(openid);
    expect(payload.sub).toBe(openid);
    expect(payload['unionid']).toBe(expected);
    expect(userInfoCalls).toBe(1);
  });

  it('has no unionid claim for a user WeChat returns none for', async () => {
    const openid = 'oQgTest0NoUnion0000000000002';
    expect(simUnionidOf(openid)).toBeUndefined();
    const { payload, userInfoCalls } = await loginAs(openid);
    expect(payload.sub).toBe(openid);
    expect(payload).not.toHaveProperty('unionid');
    expect(userInfoCalls).toBe(1);
  });

  it('still signs the browser in (without unionid) when WeChat fails the lookup', async () => {
    const openid = 'oQgTest0Union000000000000003';
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    await browser.waitFor('status', (s) => s.status === 'pending');
    await scan(app.url, { scene: browser.ticket.ticket, openid });
    const login = await browser.waitFor('login');
    // The QR code exists already; from now on WeChat's API answers 503.
    const faults = (body: object) =>
      fetch(`${app.url}/sim/api/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await faults({ apiStatus: 503 })).status).toBe(200);
    try {
      const exchanged = await browser.exchange(login.code);
      expect(exchanged.status).toBe(200);
      const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: [] };
      const { payload } = await jwtVerify(exchanged.body.token, createLocalJWKSet(jwks));
      expect(payload.sub).toBe(openid);
      expect(payload).not.toHaveProperty('unionid');
    } finally {
      await faults({});
    }
  });
});
