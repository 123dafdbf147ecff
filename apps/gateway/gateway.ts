/**
 * The gateway: Socket.IO namespace `/login` plus the HTTP routes, built from injected dependencies.
 * Only `main.ts` (or a composition such as apps/standalone) listens on a port.
 */
import type { Server as HttpServer } from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import { Server, type Namespace, type ServerOptions } from 'socket.io';
import type { Engine } from '../../libs/engine/index.js';
import { createLoginService, createPhoneLinks, createSessionBook, type SessionRecord } from '../../libs/login/index.js';
import { mountPhoneSessionsPage } from './phone-sessions-page.js';
import { watchOidcSessions } from './oidc-sessions.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { LOGIN_NAMESPACE, SESSION_NAMESPACE, type ClientToServerEvents, type ServerToClientEvents } from '../../libs/protocol/index.js';
import type { GatewaySettings } from './gateway-settings.js';
import { mountConfirmPage } from './confirm-page.js';
import { createHttpApp } from './http-app.js';
import { setUpLoginNamespace, type LoginNamespace } from './login-namespace.js';
import { createSessionExchange } from './session-exchange.js';
import { mountSessionRoutes } from './session-routes.js';
import { setUpSessionNamespace, type SessionAnnouncer, type SessionNamespace } from './session-namespace.js';
import type { SessionSigner } from './session-signer.js';
import { createTicketIssuer, type QrCodeIssuer } from './ticket-issuer.js';
import { createTicketWatchers } from './ticket-watchers.js';
import type Provider from 'oidc-provider';
import type { OidcProviderOptions } from '../../libs/oidc/oidc-provider.js';
import type { OidcSettings } from '../../libs/oidc/oidc-settings.js';
import {
  createInteractionFinisher,
  interactionPath,
  mountOidcLoginStep,
  rememberedUnionid,
  rememberInteraction,
} from './oidc-login-step.js';
import { oidcProviderMiddleware } from './oidc-mount.js';
import { perClient } from './client-group.js';
import { createConnectionGuard } from './connection-guard.js';
import { createQrBudget } from './qr-budget.js';
import { createTicketHolders } from './ticket-holders.js';
import { createUnionidLookup, type UserInfoSource } from './unionid-lookup.js';
import { mountWechatWebLogin, type WechatWebLoginDeps } from './wechat-web-login.js';

export interface GatewayDeps {
  engine: Engine;
  wechat: QrCodeIssuer;
  /** Where each login's unionid is looked up (WeChat's `user/info`). Unset: session tokens carry no unionid. */
  userInfo?: UserInfoSource;
  /** The in-WeChat login (`wechat-web-login.ts`): the account and WeChat's hosts. Unset: the QR code only. */
  oauth?: WechatWebLoginDeps['oauth'];
  settings: GatewaySettings;
  signer: SessionSigner;
  logger: Logger;
  metrics: Metrics;
  /**
   * The adapter of namespace `/session`, which carries `session_ended` / `session_started` to the pages on
   * every gateway (libs/runtime `sessionAdapter`: the sharded Redis adapter on the engine's connections,
   * created once they are ready). Unset: Socket.IO's in-memory adapter (one process, the memory engine).
   * `/login` always stays on the in-memory adapter: its deliveries go through the engine's doorbell.
   */
  sessionAdapter?: (nsp: Namespace) => unknown;
  /** Extra HTTP routes (e.g. the browser client bundle). */
  extendRoutes?(router: Router): void;
  /** The OpenID Connect provider at `/oidc` (see libs/oidc `oidcSettings`). Absent: off. */
  oidc?: {
    settings: OidcSettings;
    /**
     * libs/oidc's `createOidcProvider`, handed in (`await import(...)`) so that a gateway without clients never
     * loads oidc-provider.
     */
    createProvider(options: OidcProviderOptions): Provider;
    /** The user's unionid for scope `unionid`, when WeChat has one. Default: never. */
    unionidOf?(openid: string): Promise<string | undefined>;
  };
  now?: () => number;
}

export interface Gateway {
  /** HTTP handler for everything but `/socket.io`. */
  readonly app: Koa;
  /** Attach Socket.IO to a server (call once). */
  attach(server: HttpServer): void;
  /**
   * Graceful drain: fail `/readyz`, refuse new sockets, ask every socket to reconnect (elsewhere), and wait
   * up to `timeoutMs` for them to leave.
   */
  drain(timeoutMs: number): Promise<{ remaining: number }>;
  readonly socketCount: number;
  close(): Promise<void>;
}

/** Largest message a browser may send: the protocol's messages are tiny. */
const MAX_SOCKET_MESSAGE_BYTES = 16 * 1024;
/**
 * A connection that has not joined `/login` by then is closed (Socket.IO's default is 45 s). Not shorter: a gateway
 * taking a reconnection storm (its neighbours died) can need tens of seconds to answer a polling join, and a join
 * cut off half-way is work thrown away that the browser then asks for again.
 */
const CONNECT_TIMEOUT_MS = 30_000;

/**
 * The provider's unionid lookup: the one an in-WeChat login's token response brought, else WeChat's
 * `cgi-bin/user/info` (which knows followers only).
 */
function unionidForOidc(
  remembered: (openid: string) => Promise<string | undefined>,
  lookup: ((openid: string) => Promise<string | undefined>) | undefined,
): (openid: string) => Promise<string | undefined> {
  return async (openid) => (await remembered(openid)) ?? (await lookup?.(openid));
}

export function createGateway(deps: GatewayDeps): Gateway {
  const { engine, settings, logger, metrics } = deps;
  let draining = false;
  let io: Server<ClientToServerEvents, ServerToClientEvents> | undefined;
  let nsp: LoginNamespace | undefined;
  let sessionNsp: SessionNamespace | undefined;

  // Per client: an IPv4 address, or an IPv6 /64 (client-group.ts).
  const exchangeLimiter = perClient(
    engine.createRateLimiter({ keyPrefix: 'rl:exchange', points: settings.exchangesPerMinute, durationSeconds: 60 }),
  );
  const resumeLimiter = perClient(
    engine.createRateLimiter({ keyPrefix: 'rl:resumes', points: settings.resumesPerMinute, durationSeconds: 60 }),
  );
  // New tickets per client are counted with the QR quota, in one step (qr-budget.ts).
  const qrBudget = createQrBudget({
    engine,
    dailyQuota: settings.wechatQrDailyQuota,
    ticketsPerMinute: settings.ticketsPerMinute,
    metrics,
  });
  const holders = createTicketHolders({ engine, onError: (err) => logger.warn({ err }, 'ticket lease renewal failed') });
  const guard = createConnectionGuard({ settings, metrics, logger, namespaces: [LOGIN_NAMESPACE, SESSION_NAMESPACE] });
  const { confirmation } = settings;
  // The use cases, shared by every route and socket of this gateway.
  const login = createLoginService({ engine, metrics, logger, ...(deps.now ? { now: deps.now } : {}) });
  const issuer = createTicketIssuer({ login, wechat: deps.wechat, logger, ttlSeconds: settings.ticketTtlSeconds });
  const watchers = createTicketWatchers({ engine, onError: (err) => logger.warn({ err }, 'ticket delivery failed') });
  const unionid = deps.userInfo ? createUnionidLookup({ source: deps.userInfo, logger }) : undefined;
  const sessions = createSessionBook({ kv: engine.kv, ...(deps.now ? { now: deps.now } : {}) });
  // Set once Socket.IO is attached; until then there is no page to tell.
  let announcer: SessionAnnouncer | undefined;
  const onSessionBegun = (record: SessionRecord, replayed: boolean): void => {
    if (!replayed) announcer?.started(record);
  };
  const exchange = createSessionExchange({
    login,
    signer: deps.signer,
    sessions,
    onSessionBegun,
    logger,
    ...(unionid ? { unionid } : {}),
  });

  const oidc = deps.oidc;
  const provider =
    oidc === undefined
      ? undefined
      : oidc.createProvider({
          issuer: oidc.settings.issuer,
          clients: oidc.settings.clients,
          kv: engine.kv,
          signingKeys: oidc.settings.signingKeys,
          cookieKeys: oidc.settings.cookieKeys,
          interactionPath,
          rememberInteraction: rememberInteraction(engine),
          unionidOf: unionidForOidc(rememberedUnionid(engine), oidc.unionidOf),
          proxy: settings.behindProxy,
          lifetimes: { session: oidc.settings.sessionTtlSeconds },
        });
  provider?.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc provider error'));
  // Its sessions are qrgate sessions too: listed, ended from anywhere, and told to clients on the back channel.
  const oidcSessions =
    provider === undefined
      ? undefined
      : watchOidcSessions({
          provider,
          sessions,
          settings,
          logger,
          onBegun: (record) => announcer?.started(record),
          onEnded: (records) => announcer?.ended(records),
          ...(deps.now ? { now: deps.now } : {}),
        });
  /** Every ending goes through here: push it to the pages, and end the provider sessions among them. */
  const sessionsEnded = (records: readonly SessionRecord[]): void => {
    announcer?.ended(records);
    if (oidcSessions !== undefined && records.some((r) => r.method === 'oidc')) void oidcSessions.end(records);
  };

  const app = createHttpApp({
    engine,
    exchange,
    signer: deps.signer,
    settings,
    metrics,
    logger,
    exchangeLimiter,
    isDraining: () => draining,
    wechatLogin: deps.oauth !== undefined,
    extend: (router: Router) => {
      const beginWechatLogin =
        deps.oauth === undefined
          ? undefined
          : mountWechatWebLogin(router, {
              login,
              signer: deps.signer,
              sessions,
              onSessionBegun,
              settings,
              logger,
              oauth: deps.oauth,
              ...(unionid ? { unionid } : {}),
              ...(provider !== undefined ? { interactions: createInteractionFinisher(provider, engine, deps.now) } : {}),
            });
      mountSessionRoutes(router, {
        signer: deps.signer,
        sessions,
        settings,
        onSessionsEnded: sessionsEnded,
        ...(deps.now ? { now: deps.now } : {}),
      });
      mountPhoneSessionsPage(router, { links: createPhoneLinks(engine.kv), sessions, settings, onSessionsEnded: sessionsEnded });
      // `tap` mode: the page that accepts the links signed with SESSION_SECRET (the settings carry it).
      if (confirmation.mode === 'tap') {
        mountConfirmPage(router, {
          engine,
          login,
          settings,
          secret: confirmation.secret,
          logger,
          metrics,
          ...(deps.now ? { now: deps.now } : {}),
        });
      }
      if (provider !== undefined) {
        mountOidcLoginStep(router, {
          engine,
          login,
          provider,
          settings,
          logger,
          metrics,
          exchangeLimiter,
          ...(beginWechatLogin !== undefined ? { beginWechatLogin } : {}),
          ...(deps.now ? { now: deps.now } : {}),
        });
      }
      deps.extendRoutes?.(router);
    },
  });
  // After the router: its routes (the login step under /oidc/interaction) match first, the provider gets the rest.
  if (provider !== undefined && oidc !== undefined) app.use(oidcProviderMiddleware(provider, oidc.settings.clients));

  return {
    app,
    get socketCount() {
      return nsp?.sockets.size ?? 0;
    },
    attach(server) {
      if (io !== undefined) throw new Error('gateway already attached');
      io = new Server<ClientToServerEvents, ServerToClientEvents>(server, {
        maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
        connectTimeout: CONNECT_TIMEOUT_MS,
        allowRequest: guard.allowRequest,
        cors: settings.allowedOrigins.length > 0 ? { origin: settings.allowedOrigins, credentials: true } : undefined,
      });
      guard.attach(io);
      const sessionAdapter = deps.sessionAdapter;
      if (sessionAdapter !== undefined) {
        const inMemory = io.adapter() as new (nsp: Namespace) => unknown;
        // Socket.IO constructs a namespace's adapter with \`new\`; a function returning an object is that object.
        io.adapter(function perNamespace(nsp: Namespace) {
          return nsp.name === SESSION_NAMESPACE ? sessionAdapter(nsp) : new inMemory(nsp);
        } as unknown as NonNullable<ServerOptions['adapter']>);
      }
      sessionNsp = io.of(SESSION_NAMESPACE) as unknown as SessionNamespace;
      announcer = setUpSessionNamespace(sessionNsp, {
        signer: deps.signer,
        sessions,
        settings,
        logger,
        isDraining: () => draining,
        ...(deps.now ? { now: deps.now } : {}),
      });
      nsp = io.of(LOGIN_NAMESPACE) as LoginNamespace;
      setUpLoginNamespace(nsp, {
        engine,
        login,
        issuer,
        watchers,
        settings,
        logger,
        metrics,
        resumeLimiter,
        qrBudget,
        holders,
        isDraining: () => draining,
        ...(deps.now ? { now: deps.now } : {}),
      });
    },
    async drain(timeoutMs) {
      draining = true;
      if (nsp === undefined) return { remaining: 0 };
      const sockets = [...nsp.sockets.values()];
      logger.info({ sockets: sockets.length, timeoutMs }, 'draining: asking sockets to reconnect elsewhere');
      // Closing the transport (not the socket) makes the client reconnect by itself and resume its ticket
      // (a signed-in page, its session).
      for (const socket of sockets) socket.conn.close();
      for (const socket of sessionNsp?.sockets.values() ?? []) socket.conn.close();
      const deadline = Date.now() + timeoutMs;
      while (nsp.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return { remaining: nsp.sockets.size };
    },
    async close() {
      draining = true;
      watchers.close();
      holders.close();
      if (io !== undefined) {
        io.disconnectSockets(true);
        await new Promise<void>((resolve) => io!.close(() => resolve()));
      }
    },
  };
}
