/**
 * The gateway's HTTP side: the login page, the code exchange, keys and the API description, on the shared edge
 * (`libs/http`: request log, error path, probes, body reader, page shell).
 */
import Koa from 'koa';
import Router from '@koa/router';
import type { Engine, RateLimiter } from '../../libs/engine/index.js';
import { errorPath, mountProbes, readJson, requestLog, securityHeaders, sendPage } from '../../libs/http/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { SESSION_ROUTE } from '../../libs/protocol/index.js';
import { clientIp, gatewayOrigin, originAllowed, requestSite, type GatewaySettings } from './gateway-settings.js';
import { GatewayError, orStoreUnavailable } from './gateway-error.js';
import { mountClientBundle } from './client-bundle.js';
import { mountOpenApi } from './openapi-route.js';
import { loginPageCsp, renderLoginPage } from './login-page.js';
import type { SessionExchange } from './session-exchange.js';
import type { SessionSigner } from './session-signer.js';
import { setSessionCookie } from './session-cookie.js';
import { isWechatBrowser, sameOriginPath, wechatLoginHref } from './wechat-web-login.js';

export interface HttpAppDeps {
  engine: Engine;
  exchange: SessionExchange;
  signer: SessionSigner;
  settings: GatewaySettings;
  metrics: Metrics;
  logger: Logger;
  exchangeLimiter: RateLimiter;
  isDraining(): boolean;
  /** The in-WeChat login is mounted: a WeChat browser gets its one-tap button instead of the QR code. */
  wechatLogin?: boolean;
  /** Extra routes (e.g. the client bundle), mounted before the fallback. */
  extend?(router: Router): void;
}

const JSON_LIMIT = 4 * 1024;

export function createHttpApp(deps: HttpAppDeps): Koa {
  // Koa's proxy mode believes X-Forwarded-* from any peer: off. The client IP comes from `clientIp` (trusted by
  // address), the scheme from PUBLIC_URL.
  const app = new Koa();
  // Errors are answered and logged by the error path; what is left (a response whose socket Node closed, e.g. a
  // request past HTTP_REQUEST_TIMEOUT_SECONDS) is logged once, not printed to stderr by Koa's default printer.
  app.silent = true;
  app.on('error', (err: unknown) => deps.logger.warn({ err }, 'gateway response failed'));
  // Strict and case-sensitive: one spelling per route, so a proxy rule for a path means what it says.
  const router = new Router({ strict: true, sensitive: true });

  app.use(requestLog({ logger: deps.logger }));
  app.use(securityHeaders(deps.settings.publicUrl !== undefined ? { publicUrl: deps.settings.publicUrl } : {}));
  app.use(errorPath({ render: 'json', logger: deps.logger }));
  mountProbes(router, { ping: () => deps.engine.ping(), isDraining: () => deps.isDraining() });
  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = deps.signer.jwks;
  });
  router.get('/', (ctx) => {
    // A fresh nonce per response allows only the page's own inline bootstrap and styles.
    sendPage(ctx, {
      csp: loginPageCsp,
      render: (nonce) =>
        renderLoginPage({
          nonce,
          acceptLanguage: ctx.get('accept-language'),
          ...(deps.settings.simulatorUrl !== undefined ? { simulatorUrl: deps.settings.simulatorUrl } : {}),
          ...(deps.settings.demoRpUrl !== undefined ? { demoRpUrl: deps.settings.demoRpUrl } : {}),
          ...(deps.settings.demoExposed === true ? { demoExposed: true } : {}),
          ...(typeof ctx.query.lang === 'string' ? { lang: ctx.query.lang } : {}),
          // A phone cannot scan its own screen: inside WeChat the page offers the web authorization instead.
          ...(deps.wechatLogin === true && isWechatBrowser(ctx.get('user-agent'))
            ? { wechatLogin: { href: wechatLoginHref(sameOriginPath(ctx.query['redirect'])) } }
            : {}),
        }),
    });
  });

  // Sites listed in ALLOWED_ORIGINS embed the client and redeem codes cross-origin: answer their preflight
  // and let them read the result. Same-origin pages need none of this.
  const allowCrossOrigin = (ctx: Koa.Context): void => {
    const origin = ctx.get('origin');
    if (origin === '' || !deps.settings.allowedOrigins.includes(origin)) return;
    ctx.set('Access-Control-Allow-Origin', origin);
    ctx.set('Access-Control-Allow-Credentials', 'true');
    ctx.vary('Origin');
  };
  router.options(SESSION_ROUTE, (ctx) => {
    allowCrossOrigin(ctx);
    ctx.set('Access-Control-Allow-Methods', 'POST');
    ctx.set('Access-Control-Allow-Headers', 'content-type');
    ctx.set('Access-Control-Max-Age', '600');
    ctx.status = 204;
  });

  router.post(SESSION_ROUTE, async (ctx) => {
    allowCrossOrigin(ctx);
    if (!originAllowed(ctx.get('origin') || undefined, ctx.get('host') || undefined, deps.settings)) {
      throw GatewayError.of('ORIGIN_NOT_ALLOWED');
    }
    const ip = clientIp(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], deps.settings.trustProxy);
    // Its counter lives in the store too: a store failing over is a 503 the client retries, never a final 500.
    const verdict = await orStoreUnavailable(() => deps.exchangeLimiter.take(ip), 'session');
    if (!verdict.ok) {
      throw GatewayError.of('RATE_LIMITED', { detail: 'exchanges', retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000) });
    }
    // Refusals of the body reader carry the protocol's code, like every other error of this route.
    const body = await readJson(ctx, {
      limit: JSON_LIMIT,
      expected: 'expected JSON { code, secret }',
      refusal: { code: 'INVALID_PAYLOAD' },
    });
    // The code is redeemed only by the site that began the login, and the token names it as its audience.
    const site = requestSite(ctx.get('origin') || undefined, ctx.get('host') || undefined, deps.settings);
    const audience = site ?? gatewayOrigin(deps.settings, { protocol: ctx.protocol, host: ctx.host });
    const session = await deps.exchange.redeem(body, { ...(site !== undefined ? { site } : {}), audience });
    setSessionCookie(ctx, session.token, deps.settings);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = session;
  });

  mountClientBundle(router);
  mountOpenApi(router);
  deps.extend?.(router);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
