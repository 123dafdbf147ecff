/**
 * WeChat's web authorization (网页授权) as the simulator plays it (research/ecosystem.md §3.4): the authorize
 * page with WeChat's checks (appid, the exact parameter order, the redirect host against the account's
 * authorization domain `10003`, the scope `10005`, the state alphabet, `#wechat_redirect`, a browser outside
 * WeChat sent to "open in WeChat"), single-use codes living 5 minutes at `sns/oauth2/access_token`
 * (`40029` unknown, `40163` used, `42003` expired), `sns/userinfo` (`48001` for base scope and snapshot users),
 * and a switch for snapshot page mode, whose users are virtual.
 */
import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { escapeHtml, sendPage } from '../../libs/http/index.js';
import { OAUTH_STATE } from '../../libs/wechat/index.js';
import { parseWith, readJson } from './sim-http.js';
import { wechatError } from './sim-platform-routes.js';
import { DEMO_USERS, type SimUsers } from './sim-users.js';

/** WeChat matches the authorize URL's parameters in this order, strictly. */
const AUTHORIZE_ORDER = ['appid', 'redirect_uri', 'response_type', 'scope', 'state'] as const;
/** A code lives 5 minutes unused, and is used once. */
export const OAUTH_CODE_TTL_MS = 5 * 60_000;
/**
 * Most authorization codes, and most access tokens, the simulator remembers: every pass through the authorize
 * page makes a code, so past this the oldest is forgotten (an old code then answers 40029), keeping memory bounded.
 */
export const MAX_SIM_OAUTH_GRANTS = 10_000;

/** Set `key` in `map`, forgetting the oldest entries (maps iterate in insertion order) past `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.set(key, value);
  for (const oldest of map.keys()) {
    if (map.size <= max) break;
    map.delete(oldest);
  }
}

interface IssuedCode {
  openid: string;
  unionid?: string;
  scope: string;
  snapshot: boolean;
  expiresAt: number;
  used: boolean;
}

export interface SimOauthOptions {
  appId: string;
  appSecret: string;
  users: SimUsers;
  /** The account's 网页授权域名: hosts (with port, for a local test) redirect_uri may point at. */
  authorizationDomains(): readonly string[];
  now?: () => number;
  /** Most codes, and most access tokens, remembered at once. Default {@link MAX_SIM_OAUTH_GRANTS}. */
  maxGrants?: number;
}

/** Who is signed in to the simulated WeChat app, and whether the next authorization is a snapshot page. */
export interface SimOauthSwitches {
  openid: string;
  snapshot: boolean;
}

const switchesBody = z
  .object({
    openid: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .optional(),
    snapshot: z.boolean().optional(),
  })
  .strict();

/** WeChat's error page of the authorize step: the code and its words, as the phone shows them. */
function authorizeError(ctx: Context, errcode: number, words: string): null {
  ctx.status = 400;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>微信</title><body><h1 id="wechat-error">${errcode}</h1><p>${escapeHtml(words)}</p></body></html>`;
  return null;
}

export function createOauthRouter(options: SimOauthOptions): { router: Router; switches: SimOauthSwitches } {
  // Read at each call (not captured), so a test can move the clock.
  const now = options.now ?? (() => Date.now());
  const codes = new Map<string, IssuedCode>();
  const tokens = new Map<string, IssuedCode>();
  const maxGrants = options.maxGrants ?? MAX_SIM_OAUTH_GRANTS;
  const switches: SimOauthSwitches = { openid: DEMO_USERS[0]?.openid ?? 'oQgSim0Alice0000000000000001', snapshot: false };
  const router = new Router();

  /** Every check of the authorize URL; the redirect target when it passes, after an error page otherwise. */
  function checkAuthorize(ctx: Context): { redirectUri: URL; scope: string; state: string } | null {
    const keys = ctx.querystring.split('&').map((pair) => decodeURIComponent(pair.split('=')[0] ?? ''));
    const q = (name: string): string => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : '');
    if (q('appid') === '') return authorizeError(ctx, 10013, 'appid 参数为空');
    if (q('appid') !== options.appId) return authorizeError(ctx, 10016, '不支持的 appid');
    if (q('redirect_uri') === '') return authorizeError(ctx, 10011, 'redirect_uri 参数为空');
    if (q('scope') === '') return authorizeError(ctx, 10010, 'scope 参数为空');
    if (q('state') !== '' && !OAUTH_STATE.test(q('state'))) return authorizeError(ctx, 10014, 'state 参数只能是字母和数字，最多 128 字节');
    if (keys.join(',') !== AUTHORIZE_ORDER.join(',')) {
      return authorizeError(ctx, 10001, `链接的参数顺序不对，授权页面无法正常访问（应为 ${AUTHORIZE_ORDER.join('&')}）`);
    }
    if (q('response_type') !== 'code') return authorizeError(ctx, 10002, 'response_type 只能是 code');
    if (q('scope') !== 'snsapi_base' && q('scope') !== 'snsapi_userinfo')
      return authorizeError(ctx, 10005, '此公众号并没有这些 scope 的权限');
    let redirectUri: URL;
    try {
      redirectUri = new URL(q('redirect_uri'));
    } catch {
      return authorizeError(ctx, 10003, 'redirect_uri 参数错误');
    }
    if (!/^https?:$/.test(redirectUri.protocol) || !options.authorizationDomains().includes(redirectUri.host)) {
      return authorizeError(ctx, 10003, 'redirect_uri 域名与后台配置不一致');
    }
    return { redirectUri, scope: q('scope'), state: q('state') };
  }

  // Step 1: the authorize URL. Outside WeChat, WeChat's "open in WeChat" page. Inside, a page whose script
  // checks `#wechat_redirect` (a fragment never reaches a server) and goes on to step 2 with the same query.
  router.get('/connect/oauth2/authorize', (ctx) => {
    if (!/MicroMessenger/i.test(ctx.get('user-agent'))) {
      ctx.type = 'text/html; charset=utf-8';
      ctx.body =
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>微信</title><body><p id="open-in-wechat">请在微信客户端打开链接</p></body></html>';
      return;
    }
    if (checkAuthorize(ctx) === null) return;
    const next = `/connect/oauth2/authorize/continue?${ctx.querystring}`;
    // Its one inline script runs under a nonce, like every page of ours (the shared security headers refuse others).
    sendPage(ctx, {
      csp: (nonce) => `default-src 'none'; script-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      render: (
        nonce,
      ) => `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>微信</title><body><p id="authorizing">正在授权…</p><script nonce="${nonce}">
if (location.hash === '#wechat_redirect') location.replace(${JSON.stringify(next)});
else document.body.innerHTML = '<h1 id="wechat-error">10004</h1><p>链接缺少 #wechat_redirect</p>';
</script></body></html>`,
    });
  });

  // Step 2: silent for `snsapi_base`; a code for the signed-in WeChat user, back to the site.
  router.get('/connect/oauth2/authorize/continue', (ctx) => {
    const checked = checkAuthorize(ctx);
    if (checked === null) return;
    const user = options.users.ensure(switches.openid);
    const snapshot = switches.snapshot;
    // Snapshot page mode: a virtual user, with an openid (and unionid) of its own that is no real user's.
    const openid = snapshot
      ? `oVirt${createHash('sha256').update(`virtual:${user.openid}`).digest('base64url').slice(0, 23)}`
      : user.openid;
    const code = randomBytes(16).toString('hex');
    remember(
      codes,
      code,
      {
        openid,
        ...(user.unionid !== undefined && !snapshot ? { unionid: user.unionid } : {}),
        scope: checked.scope,
        snapshot,
        expiresAt: now() + OAUTH_CODE_TTL_MS,
        used: false,
      },
      maxGrants,
    );
    const target = new URL(checked.redirectUri);
    target.searchParams.set('code', code);
    target.searchParams.set('state', checked.state);
    ctx.redirect(target.toString());
  });

  // The user refused consent (snsapi_userinfo's Deny): back with `state` and no code.
  router.get('/connect/oauth2/authorize/deny', (ctx) => {
    const checked = checkAuthorize(ctx);
    if (checked === null) return;
    const target = new URL(checked.redirectUri);
    target.searchParams.set('state', checked.state);
    ctx.redirect(target.toString());
  });

  /** WeChat's answer to a code exchange: the token, or the errcode of the first check that fails. */
  function accessTokenAnswer(q: (name: string) => string): object {
    if (q('appid') !== options.appId) return wechatError(40013, 'invalid appid');
    if (q('secret') !== options.appSecret) return wechatError(40125, 'invalid appsecret');
    if (q('grant_type') !== 'authorization_code') return wechatError(40002, 'invalid grant_type');
    const issued = codes.get(q('code'));
    if (issued === undefined) return wechatError(40029, 'invalid code');
    if (issued.used) return wechatError(40163, 'code been used');
    if (now() > issued.expiresAt) return wechatError(42003, 'code expired');
    issued.used = true;
    const accessToken = randomBytes(24).toString('base64url');
    remember(tokens, accessToken, issued, maxGrants);
    return {
      access_token: accessToken,
      expires_in: 7200,
      refresh_token: randomBytes(24).toString('base64url'),
      openid: issued.openid,
      scope: issued.scope,
      ...(issued.snapshot ? { is_snapshotuser: 1 } : {}),
      ...(issued.unionid !== undefined ? { unionid: issued.unionid } : {}),
    };
  }

  router.get('/sns/oauth2/access_token', (ctx) => {
    ctx.body = accessTokenAnswer((name) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string) : ''));
  });

  router.get('/sns/userinfo', (ctx) => {
    const issued = tokens.get(typeof ctx.query['access_token'] === 'string' ? ctx.query['access_token'] : '');
    if (issued === undefined) {
      ctx.body = wechatError(40001, 'invalid credential, access_token is invalid or not latest');
    } else if (issued.scope !== 'snsapi_userinfo' || issued.snapshot) {
      ctx.body = wechatError(48001, 'api unauthorized');
    } else {
      ctx.body = {
        openid: issued.openid,
        nickname: '',
        sex: 0,
        province: '',
        city: '',
        country: '',
        headimgurl: '',
        privilege: [],
        ...(issued.unionid !== undefined ? { unionid: issued.unionid } : {}),
      };
    }
  });

  // Test hook and phone page: who is signed in to the simulated WeChat app, and the snapshot switch.
  router.post('/sim/api/oauth', async (ctx) => {
    const input = parseWith(switchesBody, await readJson(ctx));
    if (input.openid !== undefined) switches.openid = input.openid;
    if (input.snapshot !== undefined) switches.snapshot = input.snapshot;
    ctx.body = { ...switches };
  });

  return { router, switches };
}
