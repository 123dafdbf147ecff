/**
 * A local stand-in for the WeChat platform: the API endpoints qrgate calls (tokens, QR codes, user info),
 * the QR image host, and a phone that scans codes and pushes signed (optionally encrypted) events to the
 * webhook, retrying like WeChat. State lives in memory; expired codes are dropped.
 */
import Router from '@koa/router';
import Koa from 'koa';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { errorPath, httpError, mountProbes, requestLog, securityHeaders, sendPage } from '../../libs/http/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { createLogger, pathOnly } from '../../libs/observability/index.js';
import { buildEventXml, readReply, signPush, type SignedPush } from '../../libs/wechat/index.js';
import { deliverPush, type DeliveryResult } from './sim-push.js';
import { simApiGuard } from './sim-api-guard.js';
import { parseWith, readJson } from './sim-http.js';
import { followLink, linkIn } from './sim-in-app-browser.js';
import { phonePageCsp, renderPhonePage } from './sim-page.js';
import { createOauthRouter } from './sim-oauth.js';
import { createApiGate, createPlatformRouter, type SimApiEndpoint } from './sim-platform-routes.js';
import { createQrRegistry, type SimQrCode } from './sim-qrcodes.js';
import { createSimTokens } from './sim-tokens.js';
import { DEMO_USERS, createSimUsers } from './sim-users.js';

export interface WechatSimOptions {
  appId: string;
  appSecret: string;
  /** The Token that signs pushes. */
  token: string;
  /** Set: pushes are encrypted (safe mode) unless a scan asks for plaintext. */
  encodingAesKey?: string;
  /** The account's original id (`gh_…`), the pushes' `ToUserName`. Default `gh_qrgatesim000`. */
  originalId?: string;
  /** Where events are pushed. */
  webhookUrl: string;
  /** How long to wait for the webhook before resending, ms. Default 5000, as WeChat. */
  retryTimeoutMs?: number;
  /** Deliveries per push in total. Default 3. */
  maxAttempts?: number;
  /**
   * How long every platform API call (`stable_token`, `qrcode/create`, …) waits before answering, ms, like
   * the round trip to api.weixin.qq.com from a real data centre; the benchmark measures issuance with it.
   * Default 0.
   */
  apiLatencyMs?: number;
  /**
   * The account's 网页授权域名: the hosts (`host[:port]`) the web authorization may redirect to. Default: the
   * host of `webhookUrl` (one origin, as in the demo).
   */
  authorizationDomains?: readonly string[];
  /**
   * The site the phone page's "Open the site in WeChat" opens (the gateway's login page). Default: the first
   * authorization domain, over the webhook's scheme (one origin, as in the demo). The page lets the user edit it.
   */
  siteUrl?: string;
  /** The demo is reachable from the network: the phone page says so in a banner. */
  exposed?: boolean;
  logger?: Logger;
}

export type { SimApiEndpoint } from './sim-platform-routes.js';

export interface SimStats {
  stableTokenCalls: number;
  tokenCalls: number;
  qrcodeCreateCalls: number;
  userInfoCalls: number;
  /** HTTP requests sent to the webhook, retries included. */
  pushes: number;
}

export interface ScanInput {
  /** The code's scene; the newest live code with it is scanned. */
  scene?: string;
  /** The code's ticket; takes precedence over `scene`. */
  qrTicket?: string;
  openid: string;
  /** Default: encrypted exactly when the simulator has an `encodingAesKey`. */
  encrypt?: boolean;
}

export interface PushOutcome {
  delivered: boolean;
  attempts: number;
  status: number;
  /** Text content of the reply as the user would see it; null for `success`, an empty body or no answer. */
  reply: string | null;
  /** Why the reply could not be read (bad MsgSignature, undecryptable), when it could not. */
  replyError?: string;
  /** The webhook's answer as received. */
  rawBody: string;
  /** Why the last delivery got no answer (timeout, connection refused), when none did. */
  deliveryError?: string;
}

export interface ScanResult extends PushOutcome {
  event: 'subscribe' | 'SCAN';
}

/** A live code as `/sim/api/codes` lists it. */
export interface SimCodeView {
  scene: string;
  qrTicket: string;
  url: string;
  createdAt: number;
  /** Epoch ms; null for permanent codes. */
  expiresAt: number | null;
}

export interface WechatSim {
  /** Mount with `http.createServer(sim.app.callback())`. */
  readonly app: Koa;
  /** The simulator's metrics, for its METRICS_PORT listener. */
  readonly registry: Registry;
  stats(): SimStats;
  resetStats(): void;
  /** Scan a code as a phone would (what `POST /sim/api/scan` does). Throws an HTTP error (404) for no live code. */
  scan(input: ScanInput): Promise<ScanResult>;
  /** Follow without a push, so that the next scan is a `SCAN`. */
  follow(openid: string): void;
  /** Unfollow and push `unsubscribe`. Throws an HTTP error (409) when the user does not follow. */
  unfollow(openid: string, options?: { encrypt?: boolean }): Promise<PushOutcome>;
  /** Live codes, newest first. */
  codes(): SimCodeView[];
  /** Test hook: the next `times` calls to `endpoint` answer `{errcode}` (WeChat-like errmsg). Default once. */
  failNext(endpoint: SimApiEndpoint, errcode: number, times?: number): void;
  /** Test hook: invalidate every access token issued so far (business APIs answer 40001). */
  revokeTokens(): void;
  /** Abort pushes in progress. The simulator owns no server; the caller closes its own. */
  close(): Promise<void>;
}

const scanBody = z.object({
  scene: z.string().min(1).optional(),
  qrTicket: z.string().min(1).optional(),
  openid: z.string().min(1).max(64),
  encrypt: z.boolean().optional(),
  /** Then open the reply's link in the in-app browser and tap this button, as the user would in `tap` mode. */
  tap: z.enum(['confirm', 'cancel']).optional(),
});
const openidBody = z.object({ openid: z.string().min(1).max(64), encrypt: z.boolean().optional() });
/** A fault switch for the whole API (fault tests): every call waits `apiDelayMs`, then answers `apiStatus`. */
const faultsBody = z.object({
  apiDelayMs: z.number().int().min(0).max(60_000).optional(),
  apiStatus: z.number().int().min(200).max(599).optional(),
});

/** The API endpoints the fault switch affects: WeChat's, not the QR image host or the phone. */
const isApiPath = (path: string): boolean => path.startsWith('/cgi-bin/') && path !== '/cgi-bin/showqrcode';

/** Most pushes to the webhook the simulator has on their way at once (each holds its scan request open). */
export const MAX_PUSHES_IN_FLIGHT = 256;

/** Create the simulator. It listens nowhere; serve `app.callback()`. */
export function createWechatSim(options: WechatSimOptions): WechatSim {
  const originalId = options.originalId ?? 'gh_qrgatesim000';
  const retryTimeoutMs = options.retryTimeoutMs ?? 5000;
  const maxAttempts = options.maxAttempts ?? 3;
  const logger = options.logger;
  const tokens = createSimTokens();
  const qrcodes = createQrRegistry();
  const users = createSimUsers();
  const gate = createApiGate();
  const closing = new AbortController();
  const pending = new Set<Promise<unknown>>();
  let pushes = 0;
  // The fault switch: as WeChat looks when it is slow or failing. Cleared with `{}`.
  let apiFaults: { apiDelayMs: number; apiStatus: number } = { apiDelayMs: 0, apiStatus: 200 };

  const stats = (): SimStats => ({
    stableTokenCalls: gate.calls('/cgi-bin/stable_token'),
    tokenCalls: gate.calls('/cgi-bin/token'),
    qrcodeCreateCalls: gate.calls('/cgi-bin/qrcode/create'),
    userInfoCalls: gate.calls('/cgi-bin/user/info'),
    pushes,
  });
  const resetStats = (): void => {
    gate.resetCalls();
    pushes = 0;
  };

  function shouldEncrypt(encrypt: boolean | undefined): boolean {
    if (encrypt === true && options.encodingAesKey === undefined) {
      throw httpError(400, 'the simulator has no encodingAesKey, so it cannot encrypt');
    }
    return encrypt ?? options.encodingAesKey !== undefined;
  }

  /** Sign, deliver with WeChat's retries, and read the reply as the user's phone would. */
  async function push(xml: string, openid: string, encrypt: boolean): Promise<PushOutcome> {
    // Each push may wait for three 5 s deliveries: bound how many the phone API keeps open at once.
    if (pending.size >= MAX_PUSHES_IN_FLIGHT)
      throw httpError(429, `too many pushes in flight (at most ${MAX_PUSHES_IN_FLIGHT}); retry shortly`);
    const signed: SignedPush = signPush(xml, {
      token: options.token,
      openid,
      ...(encrypt && options.encodingAesKey !== undefined ? { aes: { encodingAesKey: options.encodingAesKey, appId: options.appId } } : {}),
    });
    const delivery = deliverPush({
      webhookUrl: options.webhookUrl,
      push: signed,
      timeoutMs: retryTimeoutMs,
      maxAttempts,
      signal: closing.signal,
      onAttempt: () => {
        pushes += 1;
      },
    });
    pending.add(delivery);
    let result: DeliveryResult;
    try {
      result = await delivery;
    } finally {
      pending.delete(delivery);
    }
    // Signed URLs are replayable in plaintext mode: log the path only.
    logger?.info(
      { webhook: pathOnly(options.webhookUrl), attempts: result.attempts, status: result.status, error: result.error },
      result.delivered ? 'push delivered' : 'push not delivered',
    );
    const outcome: PushOutcome = {
      delivered: result.delivered,
      attempts: result.attempts,
      status: result.status,
      reply: null,
      rawBody: result.body,
      ...(result.error !== undefined && !result.delivered ? { deliveryError: result.error } : {}),
    };
    if (!result.delivered || result.status !== 200) return outcome;
    try {
      outcome.reply = readReply(result.body, { token: options.token, encodingAesKey: options.encodingAesKey }).content;
    } catch (err) {
      outcome.replyError = err instanceof Error ? err.message : String(err);
    }
    return outcome;
  }

  const now = (): number => Math.floor(Date.now() / 1000);

  async function scan(input: ScanInput): Promise<ScanResult> {
    const code: SimQrCode | null =
      input.qrTicket !== undefined ? qrcodes.byTicket(input.qrTicket) : input.scene !== undefined ? qrcodes.byScene(input.scene) : null;
    if (input.qrTicket === undefined && input.scene === undefined) throw httpError(400, 'give scene or qrTicket');
    if (code === null) throw httpError(404, 'no live QR code with that scene or ticket (unknown or expired)');
    const encrypt = shouldEncrypt(input.encrypt);
    const user = users.ensure(input.openid);
    // WeChat pushes `subscribe` (prefixed key) to a new follower, once they tap Follow; `SCAN` otherwise.
    const event = user.following ? 'SCAN' : 'subscribe';
    if (event === 'subscribe') users.follow(input.openid, { scene: code.scene });
    const xml = buildEventXml({
      toUserName: originalId,
      fromUserName: input.openid,
      createTime: now(),
      event,
      eventKey: event === 'subscribe' ? `qrscene_${code.scene}` : code.scene,
      ticket: code.ticket,
    });
    return { event, ...(await push(xml, input.openid, encrypt)) };
  }

  async function unfollow(openid: string, pushOptions: { encrypt?: boolean } = {}): Promise<PushOutcome> {
    if (users.get(openid)?.following !== true) throw httpError(409, 'this user does not follow the account');
    const encrypt = shouldEncrypt(pushOptions.encrypt);
    users.unfollow(openid);
    const xml = buildEventXml({ toUserName: originalId, fromUserName: openid, createTime: now(), event: 'unsubscribe', eventKey: '' });
    return push(xml, openid, encrypt);
  }

  const codes = (): SimCodeView[] =>
    qrcodes.live().map((c) => ({ scene: c.scene, qrTicket: c.ticket, url: c.url, createdAt: c.createdAt, expiresAt: c.expiresAt }));

  const phone = new Router({ strict: true, sensitive: true });

  // Like every app: process metrics, plus what the simulated platform was asked to do.
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'qrgate_sim_calls',
    help: 'Calls the simulated WeChat platform answered, by kind (pushes: requests sent to the webhook).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      for (const [kind, value] of Object.entries(stats())) this.set({ kind }, value);
    },
  });
  // Readiness has nothing to ping: the simulator depends on nothing that could be down.
  mountProbes(phone, {});

  const authorizationDomains = (): readonly string[] => options.authorizationDomains ?? [new URL(options.webhookUrl).host];
  const siteUrl = (): string => options.siteUrl ?? `${new URL(options.webhookUrl).protocol}//${authorizationDomains()[0] ?? ''}/`;

  phone.get('/sim', (ctx) => {
    sendPage(ctx, {
      csp: phonePageCsp,
      render: (nonce) => renderPhonePage(DEMO_USERS, nonce, { siteUrl: siteUrl(), exposed: options.exposed === true }),
    });
  });

  phone.post('/sim/api/scan', async (ctx) => {
    const { tap, ...input } = parseWith(scanBody, await readJson(ctx));
    const result = await scan(input);
    const link = tap === undefined ? undefined : linkIn(result.reply);
    ctx.body = link === undefined || tap === undefined ? result : { ...result, tapped: await followLink(link, tap) };
  });

  phone.post('/sim/api/unfollow', async (ctx) => {
    const input = parseWith(openidBody, await readJson(ctx));
    ctx.body = await unfollow(input.openid, input.encrypt === undefined ? {} : { encrypt: input.encrypt });
  });

  phone.post('/sim/api/follow', async (ctx) => {
    const input = parseWith(openidBody, await readJson(ctx));
    users.follow(input.openid);
    ctx.body = { openid: input.openid, following: true };
  });

  phone.get('/sim/api/users', (ctx) => {
    ctx.body = users.list().map((u) => ({ openid: u.openid, name: u.name, following: u.following }));
  });

  phone.get('/sim/api/codes', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = codes();
  });

  phone.get('/sim/api/stats', (ctx) => {
    ctx.body = stats();
  });

  // Test hook: make the whole API slow (`apiDelayMs`) and/or failing (`apiStatus` other than 200); `{}` heals it.
  phone.post('/sim/api/faults', async (ctx) => {
    const input = parseWith(faultsBody, await readJson(ctx));
    apiFaults = { apiDelayMs: input.apiDelayMs ?? 0, apiStatus: input.apiStatus ?? 200 };
    logger?.info(apiFaults, 'API faults set');
    ctx.body = apiFaults;
  });

  phone.post('/sim/api/reset-stats', (ctx) => {
    resetStats();
    ctx.body = stats();
  });

  const platform = createPlatformRouter({
    appId: options.appId,
    appSecret: options.appSecret,
    gate,
    tokens,
    qrcodes,
    users,
    ...(options.apiLatencyMs !== undefined ? { latencyMs: options.apiLatencyMs } : {}),
    ...(logger !== undefined ? { logger } : {}),
  });

  const oauth = createOauthRouter({
    appId: options.appId,
    appSecret: options.appSecret,
    users,
    authorizationDomains,
  });

  const app = new Koa();
  // Without a logger (tests), nothing is logged, but errors are answered the same way.
  const log = logger ?? createLogger({ app: 'wechat-sim', level: 'silent' });
  // As the gateway and webhook: a response whose socket Node closed (a request past HTTP_REQUEST_TIMEOUT_SECONDS)
  // is logged once, not printed to stderr by Koa's default printer.
  app.silent = true;
  app.on('error', (err: unknown) => log.warn({ err }, 'simulator response failed'));
  app.use(requestLog({ logger: log }));
  app.use(securityHeaders());
  app.use(errorPath({ render: 'json', logger: log, logMessage: 'simulator error' }));
  app.use(async (ctx, next) => {
    if (!isApiPath(ctx.path)) return next();
    const { apiDelayMs, apiStatus } = apiFaults;
    if (apiDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, apiDelayMs));
    if (apiStatus === 200) return next();
    // An overloaded WeChat answers with an HTTP error and no errcode body.
    ctx.status = apiStatus;
    ctx.body = 'simulated WeChat API failure';
  });
  app.use(platform.routes());
  app.use(platform.allowedMethods());
  app.use(simApiGuard);
  app.use(phone.routes());
  app.use(phone.allowedMethods());
  app.use(oauth.router.routes());
  app.use(oauth.router.allowedMethods());

  return {
    app,
    registry,
    stats,
    resetStats,
    scan,
    follow(openid) {
      users.follow(openid);
    },
    unfollow,
    codes,
    failNext(endpoint, errcode, times = 1) {
      gate.failNext(endpoint, errcode, times);
    },
    revokeTokens() {
      tokens.revokeAll();
    },
    async close() {
      closing.abort();
      await Promise.allSettled([...pending]);
    },
  };
}
