/**
 * The gateway's HTTP side: the login page, the code exchange, keys, the API description, health and metrics.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import getRawBody from 'raw-body';
import type { Engine } from '../../libs/engine/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { SESSION_COOKIE, SESSION_ROUTE } from '../../libs/protocol/index.js';
import { GatewayError, clientIp, originAllowed, type GatewaySettings } from './gateway-settings.js';
import { mountClientBundle } from './client-bundle.js';
import { mountOpenApi } from './openapi-route.js';
import { loginPageCsp, renderLoginPage } from './login-page.js';
import type { SessionExchange } from './session-exchange.js';
import type { SessionSigner } from './session-signer.js';
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

export interface HttpAppDeps {
  engine: Engine;
  exchange: SessionExchange;
  signer: SessionSigner;
  settings: GatewaySettings;
  metrics: Metrics;
  logger: Logger;
  exchangeLimiter: RateLimiterAbstract;
  isDraining(): boolean;
  /** Extra routes (e.g. the client bundle), mounted before the fallback. */
  extend?(router: Router): void;
}

const JSON_LIMIT = '4kb';

export function createHttpApp(deps: HttpAppDeps): Koa {
  const app = new Koa({ proxy: deps.settings.trustProxy > 0, maxIpsCount: deps.settings.trustProxy });
  const router = new Router();

  // One line per request, with a request id (the caller's X-Request-Id when it looks like one), the path
  // without its query string, the status and the duration. Health probes and metric scrapes log at debug.
  app.use(async (ctx, next) => {
    const given = ctx.get('x-request-id');
    const requestId = /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      const line = { requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) };
      const quiet = ctx.path === '/healthz' || ctx.path === '/readyz' || ctx.path === '/metrics';
      if (quiet) deps.logger.debug(line, 'request');
      else deps.logger.info(line, 'request');
    }
  });

  // One error path: specific message and code for expected errors, a bare 500 otherwise.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof GatewayError) {
        ctx.status = err.status;
        if (err.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(err.retryAfterSeconds));
        ctx.body = { error: err.message, code: err.code };
        return;
      }
      const httpErr = err as { status?: number; expose?: boolean; message?: string };
      if (httpErr.expose === true && typeof httpErr.status === 'number') {
        ctx.status = httpErr.status;
        ctx.body = { error: httpErr.message };
        return;
      }
      deps.logger.error({ err, path: ctx.path }, 'request failed');
      ctx.status = 500;
      ctx.body = { error: 'internal error' };
    }
  });

  router.get('/healthz', (ctx) => {
    ctx.body = 'ok';
  });
  router.get('/readyz', async (ctx) => {
    if (deps.isDraining()) {
      ctx.status = 503;
      ctx.body = 'draining';
      return;
    }
    try {
      await deps.engine.ping();
      ctx.body = 'ready';
    } catch {
      ctx.status = 503;
      ctx.body = 'engine unreachable';
    }
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });
  router.get('/.well-known/jwks.json', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = deps.signer.jwks;
  });
  router.get('/', (ctx) => {
    // A fresh nonce per response allows only the page's own inline bootstrap and styles.
    const nonce = randomBytes(16).toString('base64');
    ctx.type = 'html';
    ctx.set('Content-Security-Policy', loginPageCsp(nonce));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = renderLoginPage({
      nonce,
      acceptLanguage: ctx.get('accept-language'),
      ...(deps.settings.simulatorUrl !== undefined ? { simulatorUrl: deps.settings.simulatorUrl } : {}),
      ...(deps.settings.demoRpUrl !== undefined ? { demoRpUrl: deps.settings.demoRpUrl } : {}),
      ...(typeof ctx.query.lang === 'string' ? { lang: ctx.query.lang } : {}),
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
      throw new GatewayError('ORIGIN_NOT_ALLOWED', 'origin not allowed', 403);
    }
    const ip = clientIp(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], deps.settings.trustProxy);
    try {
      await deps.exchangeLimiter.consume(ip);
    } catch (rejection) {
      if (rejection instanceof Error) throw rejection;
      const wait = Math.ceil(((rejection as { msBeforeNext?: number }).msBeforeNext ?? 60_000) / 1000);
      throw new GatewayError('RATE_LIMITED', 'too many exchanges from this address', 429, wait);
    }
    const body = await readJson(ctx);
    const session = await deps.exchange.redeem(body);
    const secure = isHttps(ctx, deps.settings);
    // Behind a TLS-terminating proxy the socket is plain HTTP; PUBLIC_URL says the browser sees https.
    if (secure) ctx.cookies.secure = true;
    ctx.cookies.set(SESSION_COOKIE, session.token, {
      httpOnly: true,
      sameSite: 'lax',
      secure,
      path: '/',
      maxAge: deps.settings.sessionTtlSeconds * 1000,
      overwrite: true,
    });
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

/** The JSON body of a small request (≤ 4 KiB, `application/json`, no content coding); GatewayError otherwise. */
export async function readJson(ctx: Koa.Context): Promise<unknown> {
  // `ctx.is` answers null for an empty body; the header is what the client declared.
  if (ctx.request.type !== 'application/json') throw new GatewayError('INVALID_PAYLOAD', 'expected Content-Type: application/json', 415);
  const encoding = ctx.get('content-encoding').toLowerCase();
  if (encoding !== '' && encoding !== 'identity') {
    throw new GatewayError('INVALID_PAYLOAD', `unsupported Content-Encoding: ${encoding.slice(0, 20)}`, 415);
  }
  let raw: string;
  try {
    raw = await getRawBody(ctx.req, { limit: JSON_LIMIT, encoding: 'utf8' });
  } catch (err) {
    const status = (err as { status?: number }).status === 413 ? 413 : 400;
    throw new GatewayError('INVALID_PAYLOAD', status === 413 ? 'body too large' : 'unreadable body', status);
  }
  if (raw.trim() === '') throw new GatewayError('INVALID_PAYLOAD', 'empty body: expected JSON { code, secret }', 400);
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new GatewayError('INVALID_PAYLOAD', 'body is not valid JSON', 400);
  }
}

/** Whether the browser talks HTTPS to us (directly, or through a TLS-terminating proxy PUBLIC_URL names). */
export function isHttps(ctx: Koa.Context, settings: GatewaySettings): boolean {
  return ctx.secure || (settings.publicUrl?.startsWith('https:') ?? false);
}
