/**
 * Login inside WeChat without a QR code, over real HTTP through the simulator's authorization pages: the
 * login page offers the one-tap button to a WeChat browser, `/auth/wechat` redirects with the parameters in
 * WeChat's order, the callback signs the browser in with the session cookie and goes to `redirect`; and each
 * refusal (wrong or missing state, reused code, refused consent, snapshot user) signs nothing in.
 */
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS, simUnionidOf, WECHAT_IN_APP_UA } from '../../apps/wechat-sim/index.js';
import { CHROME_ON_WINDOWS } from '../support/fixtures.js';
import { startTestStandalone } from '../support/standalone.js';

describe('login inside WeChat (snsapi_base)', () => {
  let app: Standalone;
  beforeAll(async () => {
    app = await startTestStandalone({ LOGIN_CONFIRMATION: 'tap' });
  });
  afterAll(async () => {
    await app?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(new URL(path, app.url), { headers: { 'user-agent': WECHAT_IN_APP_UA, ...headers }, redirect: 'manual' });
  const cookieOf = (res: Response, name: string): string | undefined => res.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  const switches = (body: object) =>
    fetch(`${app.url}/sim/api/oauth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  /** `/auth/wechat`: the authorize URL and the browser's cookie. */
  async function start(redirect = '/account'): Promise<{ authorize: string; cookie: string; state: string }> {
    const res = await get(`/auth/wechat?redirect=${encodeURIComponent(redirect)}`);
    expect(res.status).toBe(302);
    const authorize = res.headers.get('location') ?? '';
    const set = cookieOf(res, 'qrgate_wechat_auth') ?? '';
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Lax/i);
    return { authorize, cookie: set.split(';')[0] ?? '', state: new URL(authorize).searchParams.get('state') ?? '' };
  }

  /** WeChat's side: its authorize page goes on (the fragment is checked by the page's script) to the callback. */
  async function throughWechat(authorize: string): Promise<URL> {
    const page = await get(authorize);
    const next = JSON.parse(/location\.replace\((".*?")\)/.exec(await page.text())?.[1] ?? '""') as string;
    const granted = await get(next);
    expect(granted.status).toBe(302);
    return new URL(granted.headers.get('location') ?? '');
  }

  it('the login page shows a WeChat browser the one-tap button instead of the QR code; other browsers keep the QR', async () => {
    const inWechat = await (await get('/?redirect=%2Faccount&lang=zh')).text();
    expect(inWechat).toContain('id="wechat-login"');
    expect(inWechat).toContain('href="/auth/wechat?redirect=%2Faccount"');
    expect(inWechat).toContain('微信一键登录');
    expect(inWechat).not.toContain('qrgate-login');
    expect(await (await get('/?lang=en')).text()).toContain('Sign in with WeChat');
    const desktop = await (await get('/', { 'user-agent': CHROME_ON_WINDOWS })).text();
    expect(desktop).toContain('qrgate-login');
    expect(desktop).not.toContain('wechat-login');
  });

  it("signs in without a QR: the authorize URL in WeChat's order, then the session cookie and the redirect", async () => {
    const openid = DEMO_USERS[0]?.openid ?? '';
    await switches({ openid, snapshot: false });
    const { authorize, cookie, state } = await start('/account?tab=1');
    expect(state).toMatch(/^[0-9a-f]{32}$/);
    expect(authorize).toBe(
      `${app.url}/connect/oauth2/authorize?appid=${new URL(authorize).searchParams.get('appid')}&redirect_uri=${encodeURIComponent(`${app.url}/auth/wechat/callback`)}&response_type=code&scope=snsapi_base&state=${state}#wechat_redirect`,
    );
    const callback = await throughWechat(authorize);
    expect(callback.pathname).toBe('/auth/wechat/callback');

    const done = await get(`${callback.pathname}${callback.search}`, { cookie });
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe('/account?tab=1');
    const session = cookieOf(done, 'qrgate_session') ?? '';
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Lax/i);
    const token = session.split(';')[0]?.slice('qrgate_session='.length) ?? '';
    const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: [] };
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks));
    expect(payload.sub).toBe(openid);
    // A demo user has the unionid the simulator lists for them; any other openid one derived from it.
    expect(payload['unionid']).toBe(DEMO_USERS.find((u) => u.openid === openid)?.unionid ?? simUnionidOf(openid));
    // The browser's half is spent.
    expect(cookieOf(done, 'qrgate_wechat_auth')).toMatch(/qrgate_wechat_auth=;/);
  });

  it('a redirect that is not a same-origin path is dropped: the browser lands on /', async () => {
    for (const redirect of ['//evil.example.net/x', 'https://evil.example.net/', '/\\evil.example.net']) {
      const { authorize, cookie } = await start(redirect);
      const callback = await throughWechat(authorize);
      const done = await get(`${callback.pathname}${callback.search}`, { cookie });
      expect(done.status, redirect).toBe(302);
      expect(done.headers.get('location'), redirect).toBe('/');
    }
  });

  it('a wrong or missing state is a 400 and nothing is exchanged', async () => {
    const { authorize, cookie } = await start();
    const callback = await throughWechat(authorize);
    const code = callback.searchParams.get('code') ?? '';
    const wrong = await get(`/auth/wechat/callback?code=${code}&state=${'0'.repeat(32)}`, { cookie });
    expect(wrong.status).toBe(400);
    expect(cookieOf(wrong, 'qrgate_session')).toBeUndefined();
    const noCookie = await get(`${callback.pathname}${callback.search}`);
    expect(noCookie.status).toBe(400);
    expect(cookieOf(noCookie, 'qrgate_session')).toBeUndefined();
    // The code was never spent: with the right cookie it still signs in.
    expect((await get(`${callback.pathname}${callback.search}`, { cookie })).status).toBe(302);
  });

  it('a reused code gets a clear page and no session', async () => {
    const first = await start();
    const callback = await throughWechat(first.authorize);
    expect((await get(`${callback.pathname}${callback.search}`, { cookie: first.cookie })).status).toBe(302);
    const second = await start();
    const reused = await get(`/auth/wechat/callback?code=${callback.searchParams.get('code')}&state=${second.state}`, {
      cookie: second.cookie,
    });
    expect(reused.status).toBe(400);
    expect(await reused.text()).toContain('already used or has expired');
    expect(cookieOf(reused, 'qrgate_session')).toBeUndefined();
  });

  it('a refused consent says so, with a way back', async () => {
    const { authorize, cookie } = await start('/account');
    const denied = await get(`/connect/oauth2/authorize/deny${new URL(authorize).search}`);
    const back = new URL(denied.headers.get('location') ?? '');
    const page = await get(`${back.pathname}${back.search}`, { cookie });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('did not allow');
    expect(html).toContain('href="/?redirect=%2Faccount"');
    expect(cookieOf(page, 'qrgate_session')).toBeUndefined();
  });

  it('a snapshot-mode (virtual) user is refused', async () => {
    await switches({ snapshot: true });
    try {
      const { authorize, cookie } = await start();
      const callback = await throughWechat(authorize);
      const page = await get(`${callback.pathname}${callback.search}`, { cookie });
      expect(page.status).toBe(403);
      expect(cookieOf(page, 'qrgate_session')).toBeUndefined();
    } finally {
      await switches({ snapshot: false });
    }
  });
});
