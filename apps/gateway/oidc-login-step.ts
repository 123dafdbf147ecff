/**
 * The OpenID Connect login step is qrgate's own QR page. `GET /oidc/interaction/:uid` shows the login page for
 * that interaction; when the browser's ticket is confirmed, the page posts `{ code, secret }` to
 * `POST /oidc/interaction/:uid/finish`, which redeems the ticket and finishes the interaction, answering where
 * the browser continues (the provider's resume URL, which redirects to the client with `code` and `state`).
 *
 * Two bindings protect it: the provider's interaction cookie (only the browser that started this authorization
 * request can finish it) and the ticket's browser secret (only the browser that showed the QR code can redeem
 * its login code). An expired interaction gets a page that starts the same authorization request over.
 *
 * Inside WeChat's own browser (a phone cannot scan its own screen) the page offers the one-tap button instead,
 * to `GET /oidc/interaction/:uid/wechat`: there the interaction cookie is checked, and the Official Account's
 * web authorization (`wechat-web-login.ts`) begins; its callback finishes the interaction through
 * `createInteractionFinisher`.
 */
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Engine, RateLimiter } from '../../libs/engine/index.js';
import { readJson } from '../../libs/http/index.js';
import type { LoginService } from '../../libs/login/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
// Module by module: the login step must not load oidc-provider itself (see libs/oidc/index.ts).
import { interactionExpiredPage, OIDC_PAGE_CSP } from '../../libs/oidc/oidc-pages.js';
import { amrFor } from '../../libs/oidc/oidc-scopes.js';
import { OIDC_MOUNT_PATH } from '../../libs/oidc/oidc-settings.js';
import { sessionRequestSchema } from '../../libs/protocol/index.js';
import { ticketLogId } from '../../libs/ticket/index.js';
import { GatewayError, orStoreUnavailable } from './gateway-error.js';
import { clientIp, originAllowed, type GatewaySettings } from './gateway-settings.js';
import { loginPageCsp, renderLoginPage } from './login-page.js';
import { isWechatBrowser, type BeginWechatLogin, type InteractionFinisher } from './wechat-web-login.js';

/** How long an expired interaction can still be started over. */
const RESTART_TTL_MS = 24 * 3600 * 1000;
const restartKey = (uid: string): string => `oidc:{restart:${uid}}`;
/**
 * How long a unionid from an in-WeChat login's token response is kept for userinfo: as long as a token granted
 * at that login can reach userinfo (the provider's default refresh-token lifetime).
 */
const WECHAT_UNIONID_TTL_MS = 14 * 24 * 3600 * 1000;
const unionidKey = (openid: string): string => `oidc:{unionid:${openid}}`;
/** Which interaction an in-WeChat login's ticket was begun from. */
const boundKey = (ticketId: string): string => `oidc:{wechat-login:${ticketId}}`;

/** The unionid an in-WeChat login of `openid` brought (its token response), if one is remembered. */
export function rememberedUnionid(engine: Engine): (openid: string) => Promise<string | undefined> {
  return async (openid) => (await engine.kv.get(unionidKey(openid))) ?? undefined;
}

/** Path of the login page of interaction `uid`. */
export const interactionPath = (uid: string): string => `${OIDC_MOUNT_PATH}/interaction/${encodeURIComponent(uid)}`;

export interface OidcLoginStepDeps {
  engine: Engine;
  /** The use cases: `redeem()` consumes the confirmed ticket. */
  login: LoginService;
  provider: Provider;
  settings: GatewaySettings;
  logger: Logger;
  metrics: Metrics;
  exchangeLimiter: RateLimiter;
  /** Set when the in-WeChat login is on: a WeChat browser gets the one-tap button, begun here. */
  beginWechatLogin?: BeginWechatLogin;
  now?: () => number;
}

/**
 * The provider's side of an in-WeChat login: finish interaction `uid` with the user signed in (amr `wechat`).
 * The browser proved it holds the interaction when the login began (`…/wechat` checks the provider's cookie,
 * which is scoped to the interaction's path and so never reaches the callback); the provider's resume cookie
 * is checked again when the browser follows the answer. Only an interaction still at its login step, with no
 * result yet, is finished: once.
 */
export function createInteractionFinisher(provider: Provider, engine: Engine, now: () => number = Date.now): InteractionFinisher {
  return {
    pagePath: interactionPath,
    async finish(uid, openid, unionid) {
      const interaction = await provider.Interaction.find(uid);
      if (interaction === undefined || interaction.result !== undefined || interaction.prompt.name !== 'login') return null;
      interaction.result = { login: { accountId: openid, amr: amrFor('wechat') } };
      const ttlSeconds = interaction.exp - Math.floor(now() / 1000);
      if (ttlSeconds <= 0) return null;
      // The userinfo endpoint's `unionid` claim (`rememberedUnionid`): WeChat said it here, not at user/info.
      if (unionid !== undefined) await engine.kv.set(unionidKey(openid), unionid, WECHAT_UNIONID_TTL_MS);
      await interaction.save(ttlSeconds);
      return interaction.returnTo;
    },
    bind: (ticketId, uid, ttlMs) => engine.kv.set(boundKey(ticketId), uid, ttlMs),
    boundTo: async (ticketId) => (await engine.kv.get(boundKey(ticketId))) ?? undefined,
  };
}

/**
 * The one place where a confirmed ticket becomes the signed-in user of an OpenID Connect interaction: the
 * single-use login code plus the browser's secret redeem the ticket (`login.redeem()`, the same use case as
 * `POST /api/session`) and yield its openid. Throws GatewayError (401) on any refusal, leaving the ticket as it was.
 */
export async function redeemTicketForOidc(deps: Pick<OidcLoginStepDeps, 'login' | 'logger'>, body: unknown): Promise<{ openid: string }> {
  const parsed = sessionRequestSchema.safeParse(body);
  if (!parsed.success) throw GatewayError.of('INVALID_PAYLOAD', { detail: 'session' });
  const redeemed = await orStoreUnavailable(() => deps.login.redeem(parsed.data), 'session');
  if (!redeemed.ok) {
    throw GatewayError.of('INVALID_CODE', redeemed.reason === 'secret_mismatch' ? { detail: 'wrong_browser' } : {});
  }
  // An interaction finishes once: the exchange's replay (the same browser retrying a lost answer) is for
  // `POST /api/session`, whose session it hands back; here a second finish would have nothing to hand back.
  if (redeemed.replayed) throw GatewayError.of('INVALID_CODE', { detail: 'used' });
  deps.logger.info({ ticket: ticketLogId(redeemed.ticket.id) }, 'oidc login finished');
  return { openid: redeemed.openid };
}

/** Remember an interaction's authorization request so that its expired page can start it over. */
export function rememberInteraction(engine: Engine): (uid: string, params: Record<string, unknown>) => Promise<void> {
  return async (uid, params) => {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (typeof value === 'string') query.set(name, value);
    await engine.kv.set(restartKey(uid), query.toString(), RESTART_TTL_MS);
  };
}

/** The page for an interaction that cannot go on (expired, finished, or without its cookie). */
async function renderExpired(ctx: Koa.Context, engine: Engine, uid: string): Promise<void> {
  const query = await engine.kv.get(restartKey(uid));
  ctx.status = 400;
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', OIDC_PAGE_CSP);
  ctx.set('Cache-Control', 'no-store');
  ctx.body = interactionExpiredPage(query !== null ? `${OIDC_MOUNT_PATH}/auth?${query}` : undefined);
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/** The interaction this browser's cookie names, if it is `uid` and still open; null otherwise. */
async function currentInteraction(ctx: Koa.Context, provider: Provider, uid: string): Promise<Details | null> {
  try {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    return details.uid === uid ? details : null;
  } catch (err) {
    // SessionNotFound: no cookie, or the interaction expired or was finished already.
    if ((err as { name?: string }).name === 'SessionNotFound') return null;
    throw err;
  }
}

/** Register the login step's two routes. */
export function mountOidcLoginStep(router: Router, deps: OidcLoginStepDeps): void {
  const { provider, engine, settings } = deps;

  router.get(`${OIDC_MOUNT_PATH}/interaction/:uid`, async (ctx) => {
    const uid = ctx.params.uid!;
    const details = await currentInteraction(ctx, provider, uid);
    if (details === null) return renderExpired(ctx, engine, uid);
    if (details.prompt.name !== 'login') {
      // Consent is never asked (the clients are the operator's own): grant what was requested and go on.
      const accountId = details.session?.accountId;
      const clientId = String(details.params.client_id);
      if (accountId === undefined) return renderExpired(ctx, engine, uid);
      const grant =
        details.grantId !== undefined ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId });
      if (grant === undefined) return renderExpired(ctx, engine, uid);
      const missing = details.prompt.details.missingOIDCScope;
      if (Array.isArray(missing)) grant.addOIDCScope(missing.join(' '));
      const grantId = await grant.save();
      const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      ctx.redirect(redirectTo);
      return;
    }
    const nonce = randomBytes(16).toString('base64');
    const inWechat = deps.beginWechatLogin !== undefined && isWechatBrowser(ctx.get('user-agent'));
    ctx.type = 'html';
    ctx.set('Content-Security-Policy', loginPageCsp(nonce));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = renderLoginPage({
      nonce,
      acceptLanguage: ctx.get('accept-language'),
      ...(typeof details.params.ui_locales === 'string' ? { lang: details.params.ui_locales.split(' ')[0]!.slice(0, 2) } : {}),
      ...(typeof ctx.query.lang === 'string' ? { lang: ctx.query.lang } : {}),
      ...(settings.simulatorUrl !== undefined ? { simulatorUrl: settings.simulatorUrl } : {}),
      oidc: { exchangeUrl: `${interactionPath(uid)}/finish`, clientId: String(details.params.client_id) },
      // A phone cannot scan its own screen: inside WeChat, the web authorization for this interaction.
      ...(inWechat ? { wechatLogin: { href: `${interactionPath(uid)}/wechat` } } : {}),
    });
  });

  // The one-tap button's target: only the browser holding this interaction's cookie may begin its login.
  router.get(`${OIDC_MOUNT_PATH}/interaction/:uid/wechat`, async (ctx) => {
    const uid = ctx.params.uid!;
    const begin = deps.beginWechatLogin;
    const details = begin === undefined ? null : await currentInteraction(ctx, provider, uid);
    if (begin === undefined || details === null) return renderExpired(ctx, engine, uid);
    if (details.prompt.name !== 'login') {
      ctx.redirect(interactionPath(uid));
      return;
    }
    await begin(ctx, { interaction: uid });
  });

  router.post(`${OIDC_MOUNT_PATH}/interaction/:uid/finish`, async (ctx) => {
    if (!originAllowed(ctx.get('origin') || undefined, ctx.get('host') || undefined, { ...settings, allowedOrigins: [] })) {
      throw GatewayError.of('ORIGIN_NOT_ALLOWED');
    }
    const ip = clientIp(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], settings.trustProxy);
    const verdict = await deps.exchangeLimiter.take(ip);
    if (!verdict.ok) {
      throw GatewayError.of('RATE_LIMITED', { detail: 'exchanges', retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) });
    }
    const body = await readJson(ctx, { limit: 4 * 1024, expected: 'expected JSON { code, secret }', refusal: { code: 'INVALID_PAYLOAD' } });
    const uid = ctx.params.uid!;
    const details = await currentInteraction(ctx, provider, uid);
    ctx.set('Cache-Control', 'no-store');
    if (details === null || details.prompt.name !== 'login') {
      ctx.status = 410;
      ctx.body = { error: 'this sign-in expired: start over', code: 'INTERACTION_EXPIRED' };
      return;
    }
    const { openid } = await redeemTicketForOidc(deps, body);
    const redirectTo = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: openid, amr: amrFor(settings.confirmation.mode) } },
      { mergeWithLastSubmission: false },
    );
    ctx.body = { openid, redirectTo };
  });
}
