/**
 * Login inside WeChat (issue 11): a phone user cannot scan their own screen, so a browser whose User-Agent is
 * WeChat's signs in through the Official Account's web authorization (`snsapi_base`, silent, one tap).
 *
 * `GET /auth/wechat` issues a ticket bound to this browser (its id, secret and the `state` in an HttpOnly,
 * SameSite=Lax cookie) and redirects to WeChat's authorize page. `GET /auth/wechat/callback` checks `state`
 * against the cookie, exchanges the code, refuses a snapshot-mode (virtual) user, and finishes the ticket
 * through `libs/login` exactly as a scan in `scan` mode would (the person is on their own phone, so there is
 * nothing to confirm), then redeems it with the browser's secret and signs the browser in with the same
 * session cookie and the same `redirect` rule as the login page.
 *
 * Begun from an OpenID Connect interaction instead (`GET /oidc/interaction/:uid/wechat`, where the provider's
 * interaction cookie proves this browser started it), the store records that interaction for the ticket and the callback
 * finishes it with the user signed in (the browser goes on to the provider's resume URL and from there to the
 * client), signing nothing in to the gateway's own session.
 */
import { timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { escapeHtml, sendPage } from '../../libs/http/index.js';
import { sessionOfTicket, type LoginService, type SessionBook, type SessionRecord } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { newSecret, newTicketId, ticketLogId } from '../../libs/ticket/index.js';
import { INVALID_OAUTH_CODE_ERRCODES, OAUTH_STATE, exchangeOauthCode, newOauthState, oauthAuthorizeUrl } from '../../libs/wechat/index.js';
import { clientIp, gatewayOrigin, type GatewaySettings } from './gateway-settings.js';
import { setSessionCookie } from './session-cookie.js';
import type { SessionSigner } from './session-signer.js';
import type { UnionidLookup } from './unionid-lookup.js';

export const WECHAT_LOGIN_ROUTE = '/auth/wechat';
export const WECHAT_CALLBACK_ROUTE = '/auth/wechat/callback';
/** The browser's half of an in-WeChat login: ticket id, secret, state and where to go afterwards. */
const AUTH_COOKIE = 'qrgate_wechat_auth';

/** True for WeChat's in-app browser (its User-Agent carries `MicroMessenger`). */
export const isWechatBrowser = (userAgent: string): boolean => /MicroMessenger\//i.test(userAgent);

/** The page's `redirect` when it is a same-origin path (`/x`, never `//x`, `/\x` or control characters). */
export function sameOriginPath(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 2048) return null;
  const controlOrBackslash = [...raw].some((c) => c === '\\' || c.charCodeAt(0) < 0x20);
  return /^\/(?![/\\])/.test(raw) && !controlOrBackslash ? raw : null;
}

/** Where an in-WeChat login goes once done: the page's same-origin `redirect`, or an OpenID Connect interaction. */
export type WechatLoginTarget = { redirect: string | null } | { interaction: string };

/** The one-tap button's link on the gateway's own login page. */
export const wechatLoginHref = (redirect: string | null): string =>
  redirect === null ? WECHAT_LOGIN_ROUTE : `${WECHAT_LOGIN_ROUTE}?redirect=${encodeURIComponent(redirect)}`;

/** The OpenID Connect provider's side of an in-WeChat login (`oidc-login-step.ts`). */
export interface InteractionFinisher {
  /** The login page of interaction `uid`: where a refusal's "back" link goes. */
  pagePath(uid: string): string;
  /**
   * Finish interaction `uid` with `openid` signed in, once: the URL the browser continues to (the provider's
   * resume URL), or null when the interaction is gone, already has a result, or is not at its login step.
   * `unionid` is the one WeChat's token response carried, if any (a user who does not follow the account has
   * none at `cgi-bin/user/info`).
   */
  finish(uid: string, openid: string, unionid: string | undefined): Promise<string | null>;
  /**
   * Record, in the store, that the login of ticket `ticketId` was begun from interaction `uid`, for `ttlMs`. The
   * callback finishes only the interaction recorded here: the auth cookie is the browser's to rewrite, and must
   * not choose which interaction a login finishes.
   */
  bind(ticketId: string, uid: string, ttlMs: number): Promise<void>;
  /** The interaction the login of `ticketId` was begun from, if one was recorded. */
  boundTo(ticketId: string): Promise<string | undefined>;
}

/** Start the web authorization for `target` in this response (the cookie and the redirect to WeChat). */
export type BeginWechatLogin = (ctx: Context, target: WechatLoginTarget) => Promise<void>;

export interface WechatWebLoginDeps {
  login: LoginService;
  signer: SessionSigner;
  /** Where the session is recorded (issue 12), and who is told it began. */
  sessions: SessionBook;
  onSessionBegun?(record: SessionRecord, replayed: boolean): void;
  settings: GatewaySettings;
  logger: Logger;
  /** The Official Account (WECHAT_APPID, WECHAT_SECRET), WeChat's API (WECHAT_API_BASE) and authorize host (WECHAT_OAUTH_BASE). */
  oauth: { appId: string; appSecret: string; apiBase: string; oauthBase: string };
  /** The unionid when the token response has none (`unionid-lookup.ts`). */
  unionid?: UnionidLookup;
  /** Set when the OpenID Connect provider is on: logins begun from its interactions finish there. */
  interactions?: InteractionFinisher;
}

interface AuthCookie {
  ticket: string;
  secret: string;
  state: string;
  redirect: string | null;
  /** The OpenID Connect interaction this login finishes, when it began there. */
  interaction?: string;
}

/** An interaction id as oidc-provider makes them (nanoid), nothing else. */
const INTERACTION_UID = /^[A-Za-z0-9_-]{1,64}$/;

function readAuthCookie(ctx: Context): AuthCookie | null {
  const raw = ctx.cookies.get(AUTH_COOKIE);
  if (raw === undefined || raw.length > 4096) return null;
  try {
    const value = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<AuthCookie>;
    if (typeof value.ticket !== 'string' || typeof value.secret !== 'string' || typeof value.state !== 'string') return null;
    const interaction = typeof value.interaction === 'string' && INTERACTION_UID.test(value.interaction) ? value.interaction : undefined;
    return {
      ticket: value.ticket,
      secret: value.secret,
      state: value.state,
      redirect: sameOriginPath(value.redirect),
      ...(interaction !== undefined ? { interaction } : {}),
    };
  } catch {
    return null;
  }
}

const sameState = (a: string, b: string): boolean => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** A short page for a login that did not happen: what went wrong and the way back. */
function refusalPage(ctx: Context, status: number, title: string, text: string, back: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  sendPage(ctx, {
    csp: () => "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    render: () =>
      `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>` +
      `<body><main><h1 id="wechat-login-refused">${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p><p><a id="back" href="${escapeHtml(back)}">返回登录 / Back to sign-in</a></p></main></body></html>`,
  });
  ctx.status = status;
}

/** Register `GET /auth/wechat` and its callback; returns the start, for the OpenID Connect login step. */
export function mountWechatWebLogin(router: Router, deps: WechatWebLoginDeps): BeginWechatLogin {
  const { login, settings, logger, interactions } = deps;
  const secureOf = (ctx: Context): boolean => ctx.secure || (settings.publicUrl?.startsWith('https:') ?? false);
  const callbackUrl = (ctx: Context): string => `${(settings.publicUrl ?? ctx.origin).replace(/\/+$/, '')}${WECHAT_CALLBACK_ROUTE}`;
  const pageBack = (redirect: string | null): string => (redirect === null ? '/' : `/?redirect=${encodeURIComponent(redirect)}`);
  // A refusal goes back to the page the login began on: the gateway's own, or the interaction's.
  const backTo = (cookie: Pick<AuthCookie, 'redirect' | 'interaction'>): string =>
    cookie.interaction !== undefined && interactions !== undefined ? interactions.pagePath(cookie.interaction) : pageBack(cookie.redirect);

  const begin: BeginWechatLogin = async (ctx, target) => {
    const redirect = 'redirect' in target ? target.redirect : null;
    const interaction = 'interaction' in target ? target.interaction : undefined;
    const back = backTo({ redirect, ...(interaction !== undefined ? { interaction } : {}) });
    const id = newTicketId();
    const secret = newSecret();
    // No QR code: this ticket is finished by the web authorization, never scanned (a scan event needs a QR ticket).
    const issued = await login.issue({
      id,
      secret,
      qr: { url: '', wechatTicket: '', appId: deps.oauth.appId },
      browser: {
        userAgent: ctx.get('user-agent'),
        ip: clientIp(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], settings.trustProxy),
      },
      ttlSeconds: settings.ticketTtlSeconds,
    });
    if (!issued.ok)
      return refusalPage(ctx, 503, '暂时无法登录', 'The sign-in service is unavailable right now; try again in a moment.', back);
    if (interaction !== undefined) await interactions?.bind(id, interaction, settings.ticketTtlSeconds * 1000);
    const state = newOauthState();
    const cookie: AuthCookie = { ticket: id, secret, state, redirect, ...(interaction !== undefined ? { interaction } : {}) };
    const secure = secureOf(ctx);
    if (secure) ctx.cookies.secure = true;
    ctx.cookies.set(AUTH_COOKIE, Buffer.from(JSON.stringify(cookie)).toString('base64url'), {
      httpOnly: true,
      sameSite: 'lax',
      secure,
      path: WECHAT_LOGIN_ROUTE,
      maxAge: settings.ticketTtlSeconds * 1000,
      overwrite: true,
    });
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(oauthAuthorizeUrl({ oauthBase: deps.oauth.oauthBase, appId: deps.oauth.appId, redirectUri: callbackUrl(ctx), state }));
  };

  router.get(WECHAT_LOGIN_ROUTE, (ctx) => begin(ctx, { redirect: sameOriginPath(ctx.query['redirect']) }));

  router.get(WECHAT_CALLBACK_ROUTE, async (ctx) => {
    const state = typeof ctx.query['state'] === 'string' ? ctx.query['state'] : '';
    const cookie = readAuthCookie(ctx);
    if (cookie === null || !OAUTH_STATE.test(state) || !sameState(state, cookie.state)) {
      // Not this browser's authorization (or its cookie expired): nothing is exchanged, nothing signed in.
      return refusalPage(ctx, 400, '登录链接无效', 'The state does not match this browser: start the sign-in again.', '/');
    }
    const clear = (): void => {
      ctx.cookies.set(AUTH_COOKIE, '', {
        httpOnly: true,
        sameSite: 'lax',
        secure: secureOf(ctx),
        path: WECHAT_LOGIN_ROUTE,
        maxAge: 0,
        overwrite: true,
      });
    };
    const back = backTo(cookie);
    const code = typeof ctx.query['code'] === 'string' ? ctx.query['code'] : '';
    if (code === '') {
      clear();
      return refusalPage(ctx, 200, '你没有同意授权', 'You did not allow the sign-in with WeChat; nothing was signed in.', back);
    }
    const exchanged = await exchangeOauthCode({
      apiBase: deps.oauth.apiBase,
      appId: deps.oauth.appId,
      appSecret: deps.oauth.appSecret,
      code,
    });
    if (!exchanged.ok) {
      const invalid = INVALID_OAUTH_CODE_ERRCODES.includes(exchanged.errcode);
      logger.warn({ ticket: ticketLogId(cookie.ticket), errcode: exchanged.errcode }, 'wechat web authorization code refused');
      clear();
      return invalid
        ? refusalPage(ctx, 400, '登录链接已失效', 'This sign-in link was already used or has expired; nothing was signed in.', back)
        : refusalPage(ctx, 502, '微信暂时不可用', 'WeChat did not answer the sign-in; try again in a moment.', back);
    }
    if (exchanged.snapshot) {
      // Snapshot page mode: a virtual openid that belongs to no real user (research/ecosystem.md §3.2).
      clear();
      return refusalPage(
        ctx,
        403,
        '请在微信中打开',
        'This page was opened in WeChat\u2019s preview mode, which cannot sign in: open it in WeChat itself.',
        back,
      );
    }
    const scanned = await login.scan({
      ticketId: cookie.ticket,
      openid: exchanged.openid,
      mode: 'scan',
      qrTicket: null,
      appId: deps.oauth.appId,
    });
    const finished = scanned.kind === 'confirmed' ? scanned.ticket.code : undefined;
    if (finished === undefined) {
      clear();
      return refusalPage(ctx, 410, '登录已过期', 'This sign-in expired or was already used; start again.', back);
    }
    // The interaction recorded when this ticket's login began; a cookie naming another one was rewritten.
    const interaction = cookie.interaction === undefined ? undefined : await interactions?.boundTo(cookie.ticket);
    if (cookie.interaction !== undefined && interaction !== cookie.interaction) {
      clear();
      return refusalPage(ctx, 400, '登录链接无效', 'This sign-in does not belong to that login: start the sign-in again.', '/');
    }
    const redeemed = await login.redeem({ code: finished, secret: cookie.secret });
    // `replayed` too: an interaction finishes once, and a second finish would have nothing to hand back.
    if (!redeemed.ok || (interaction !== undefined && redeemed.replayed)) {
      clear();
      return refusalPage(ctx, 410, '登录已过期', 'This sign-in expired or was already used; start again.', back);
    }
    if (interaction !== undefined) {
      // Begun from an OpenID Connect interaction: finish that one (its claims come from the provider's own
      // account lookup), and sign nothing in to the gateway's own session.
      const resume = interactions !== undefined ? await interactions.finish(interaction, redeemed.openid, exchanged.unionid) : null;
      clear();
      if (resume === null) {
        return refusalPage(ctx, 410, '登录已过期', 'This sign-in expired or was already finished; start again.', back);
      }
      logger.info({ ticket: ticketLogId(cookie.ticket) }, 'oidc login finished (in-WeChat login)');
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(resume);
      return;
    }
    const unionid = exchanged.unionid ?? (await deps.unionid?.(redeemed.openid));
    // Begun and finished on the gateway's own pages: the token is for the gateway's public origin.
    const audience = gatewayOrigin(settings, { protocol: ctx.protocol, host: ctx.host });
    const session = sessionOfTicket(redeemed.ticket, { sub: redeemed.openid, ttlSeconds: deps.signer.ttlSeconds, method: 'in_wechat' });
    const record = await deps.sessions.begin(session);
    deps.onSessionBegun?.(record, false);
    const token = await deps.signer.sign(redeemed.openid, audience, unionid !== undefined ? { unionid } : {}, {
      id: session.sid,
      issuedAt: session.issuedAt,
    });
    logger.info({ ticket: ticketLogId(cookie.ticket) }, 'session issued (in-WeChat login)');
    clear();
    setSessionCookie(ctx, token, settings);
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(cookie.redirect ?? '/');
  });
  return begin;
}
