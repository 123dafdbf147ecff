/**
 * The simulator's web authorization, driven by qrgate's own client code (`libs/wechat/wechat-oauth.ts`): the
 * authorize URL in WeChat's order passes every check and yields a single-use code; each of WeChat's refusals
 * is answered with its errcode; snapshot mode gives a virtual user; `sns/userinfo` refuses base scope.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NO_UNIONID_MARK, simUnionidOf, WECHAT_IN_APP_UA } from '../../apps/wechat-sim/index.js';
import { OAUTH_STATE, exchangeOauthCode, newOauthState, oauthAuthorizeUrl } from '../../libs/wechat/index.js';
import { APP_ID, APP_SECRET, CHROME_ON_WINDOWS } from '../support/fixtures.js';
import { serveSim, type ServedSim } from './sim-harness.js';

const CALLBACK = 'https://site.example.com/auth/wechat/callback';

describe('the simulated web authorization', () => {
  let served: ServedSim;
  beforeEach(async () => {
    served = await serveSim({ authorizationDomains: ['site.example.com'] });
  });
  afterEach(async () => {
    await served.close();
  });

  const authorizeUrl = (state = newOauthState(), redirectUri = CALLBACK) =>
    oauthAuthorizeUrl({ oauthBase: served.url, appId: APP_ID, redirectUri, state });
  const get = (url: string, userAgent = WECHAT_IN_APP_UA) => fetch(url, { headers: { 'user-agent': userAgent }, redirect: 'manual' });
  const setSwitches = async (body: object) =>
    (
      await fetch(`${served.url}/sim/api/oauth`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    ).json();
  const exchange = (code: string) => exchangeOauthCode({ apiBase: served.url, appId: APP_ID, appSecret: APP_SECRET, code });

  /** Open the authorize URL in the WeChat app, as its page would go on: the site's callback URL with code and state. */
  async function authorize(url: string): Promise<URL> {
    const page = await get(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    // The page goes on only with `#wechat_redirect` in its location (checked by its script, in a browser).
    expect(html).toContain("location.hash === '#wechat_redirect'");
    const next = /location\.replace\((".*?")\)/.exec(html)?.[1];
    expect(next).toBeDefined();
    const answer = await get(new URL(JSON.parse(next ?? '""') as string, served.url).toString());
    expect(answer.status).toBe(302);
    return new URL(answer.headers.get('location') ?? '');
  }

  it('builds the URL in exactly the order WeChat matches, with an alphanumeric state and #wechat_redirect', () => {
    const state = newOauthState();
    expect(state).toMatch(OAUTH_STATE);
    expect(authorizeUrl(state)).toBe(
      `${served.url}/connect/oauth2/authorize?appid=${APP_ID}&redirect_uri=${encodeURIComponent(CALLBACK)}&response_type=code&scope=snsapi_base&state=${state}#wechat_redirect`,
    );
    expect(() => oauthAuthorizeUrl({ appId: APP_ID, redirectUri: CALLBACK, state: 'has-dash_and' })).toThrow(/letters and digits/);
  });

  it('silent snsapi_base: a code for the WeChat user, exchanged once for the openid and unionid', async () => {
    const openid = 'oQgTest0Oauth000000000000001';
    await setSwitches({ openid });
    const state = newOauthState();
    const back = await authorize(authorizeUrl(state));
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
    expect(back.searchParams.get('state')).toBe(state);
    const code = back.searchParams.get('code') ?? '';
    expect(code).not.toBe('');

    expect(await exchange(code)).toEqual({ ok: true, openid, unionid: simUnionidOf(openid), scope: 'snsapi_base', snapshot: false });
    // Single use: the second exchange is WeChat's "code been used".
    expect(await exchange(code)).toMatchObject({ ok: false, errcode: 40163 });
    expect(await exchange('0123456789abcdef0123456789abcdef')).toMatchObject({ ok: false, errcode: 40029 });
  });

  it('a code unused for 5 minutes has expired (42003)', async () => {
    const code = (await authorize(authorizeUrl())).searchParams.get('code') ?? '';
    // Only the clock moves (timers stay real, so the HTTP calls run as usual).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5 * 60_000 + 1_000 });
    try {
      expect(await exchange(code)).toMatchObject({ ok: false, errcode: 42003 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a user without a unionid gets none; snapshot mode gives a virtual user flagged is_snapshotuser', async () => {
    const openid = `oQgTest0${NO_UNIONID_MARK}0000000000002`;
    await setSwitches({ openid });
    const plain = await exchange((await authorize(authorizeUrl())).searchParams.get('code') ?? '');
    expect(plain).toEqual({ ok: true, openid, scope: 'snsapi_base', snapshot: false });

    await setSwitches({ openid: 'oQgTest0Oauth000000000000003', snapshot: true });
    const virtual = await exchange((await authorize(authorizeUrl())).searchParams.get('code') ?? '');
    expect(virtual).toMatchObject({ ok: true, snapshot: true });
    expect(virtual.ok && virtual.openid).not.toBe('oQgTest0Oauth000000000000003');
    expect(virtual).not.toHaveProperty('unionid');
  });

  it('refuses what WeChat refuses, each with its errcode', async () => {
    const state = newOauthState();
    const base = `${served.url}/connect/oauth2/authorize`;
    const enc = encodeURIComponent(CALLBACK);
    const refusals: Array<[string, number]> = [
      // The same parameters in another order.
      [`${base}?redirect_uri=${enc}&appid=${APP_ID}&response_type=code&scope=snsapi_base&state=${state}`, 10001],
      [`${base}?appid=wx0000000000000000&redirect_uri=${enc}&response_type=code&scope=snsapi_base&state=${state}`, 10016],
      [
        `${base}?appid=${APP_ID}&redirect_uri=${encodeURIComponent('https://evil.example.net/cb')}&response_type=code&scope=snsapi_base&state=${state}`,
        10003,
      ],
      [`${base}?appid=${APP_ID}&redirect_uri=${enc}&response_type=code&scope=snsapi_login&state=${state}`, 10005],
      [`${base}?appid=${APP_ID}&redirect_uri=${enc}&response_type=code&scope=snsapi_base&state=abc-def_1`, 10014],
    ];
    for (const [url, errcode] of refusals) {
      const res = await get(url);
      expect(res.status, url).toBe(400);
      expect(await res.text(), url).toContain(`<h1 id="wechat-error">${errcode}</h1>`);
    }
  });

  it('a browser outside WeChat gets the "open in WeChat" page and no code', async () => {
    const res = await get(authorizeUrl(), CHROME_ON_WINDOWS);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('请在微信客户端打开链接');
    expect(html).not.toContain('location.replace');
  });

  it('a refused consent comes back with state and no code; sns/userinfo answers 48001 for base scope', async () => {
    const state = newOauthState();
    const query = new URL(authorizeUrl(state)).search;
    const denied = await get(`${served.url}/connect/oauth2/authorize/deny${query}`);
    const back = new URL(denied.headers.get('location') ?? '');
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.has('code')).toBe(false);

    const code = (await authorize(authorizeUrl())).searchParams.get('code') ?? '';
    const token = (await (
      await fetch(`${served.url}/sns/oauth2/access_token?appid=${APP_ID}&secret=${APP_SECRET}&code=${code}&grant_type=authorization_code`)
    ).json()) as { access_token: string };
    const info = (await (await fetch(`${served.url}/sns/userinfo?access_token=${token.access_token}&openid=x&lang=zh_CN`)).json()) as {
      errcode: number;
    };
    expect(info.errcode).toBe(48001);
  });
});
