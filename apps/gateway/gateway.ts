/**
 * The gateway: Socket.IO namespace `/login` plus the HTTP routes, built from injected dependencies.
 * Only `main.ts` (or a composition such as apps/standalone) listens on a port.
 */
import type { Server as HttpServer } from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import { Server } from 'socket.io';
import type { Engine } from '../../libs/engine/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { LOGIN_NAMESPACE, type ClientToServerEvents, type ServerToClientEvents } from '../../libs/protocol/index.js';
import type { GatewaySettings } from './gateway-settings.js';
import { mountConfirmPage } from './confirm-page.js';
import { createHttpApp } from './http-app.js';
import { setUpLoginNamespace, type LoginNamespace } from './login-namespace.js';
import { createSessionExchange } from './session-exchange.js';
import type { SessionSigner } from './session-signer.js';
import { createTicketIssuer, type QrCodeIssuer } from './ticket-issuer.js';
import { createTicketWatchers } from './ticket-watchers.js';
import type Provider from 'oidc-provider';
import type { OidcProviderOptions } from '../../libs/oidc/oidc-provider.js';
import type { OidcSettings } from '../../libs/oidc/oidc-settings.js';
import { interactionPath, mountOidcLoginStep, rememberInteraction } from './oidc-login-step.js';
import { oidcProviderMiddleware } from './oidc-mount.js';

export interface GatewayDeps {
  engine: Engine;
  wechat: QrCodeIssuer;
  settings: GatewaySettings;
  signer: SessionSigner;
  logger: Logger;
  metrics: Metrics;
  /** Extra HTTP routes (e.g. the browser client bundle). */
  extendRoutes?(router: Router): void;
  /** `tap` mode: SESSION_SECRET, which signs the confirmation links this gateway's `/confirm` page accepts. */
  confirmationSecret?: string;
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

export function createGateway(deps: GatewayDeps): Gateway {
  const { engine, settings, logger, metrics } = deps;
  let draining = false;
  let io: Server<ClientToServerEvents, ServerToClientEvents> | undefined;
  let nsp: LoginNamespace | undefined;

  const ticketLimiter = engine.createRateLimiter({
    keyPrefix: 'rl:tickets',
    points: settings.ticketsPerMinute,
    durationSeconds: 60,
  });
  const exchangeLimiter = engine.createRateLimiter({
    keyPrefix: 'rl:exchange',
    points: settings.exchangesPerMinute,
    durationSeconds: 60,
  });
  const confirmationSecret = deps.confirmationSecret;
  if (settings.confirmation === 'tap' && confirmationSecret === undefined) {
    // Scanned tickets could never be confirmed: refuse to build a gateway that cannot finish a login.
    throw new Error('LOGIN_CONFIRMATION=tap needs SESSION_SECRET (confirmationSecret) to verify confirmation links');
  }
  const issuer = createTicketIssuer({
    engine,
    wechat: deps.wechat,
    metrics,
    ttlSeconds: settings.ticketTtlSeconds,
    ...(deps.now ? { now: deps.now } : {}),
  });
  const watchers = createTicketWatchers({ engine, onError: (err) => logger.warn({ err }, 'ticket delivery failed') });
  const exchange = createSessionExchange({ engine, signer: deps.signer, metrics, logger, ...(deps.now ? { now: deps.now } : {}) });

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
          ...(oidc.unionidOf !== undefined ? { unionidOf: oidc.unionidOf } : {}),
          proxy: settings.trustProxy > 0,
          lifetimes: { session: oidc.settings.sessionTtlSeconds },
        });
  provider?.on('server_error', (_ctx, err) => logger.error({ err }, 'oidc provider error'));

  const app = createHttpApp({
    engine,
    exchange,
    signer: deps.signer,
    settings,
    metrics,
    logger,
    exchangeLimiter,
    isDraining: () => draining,
    extend: (router: Router) => {
      if (confirmationSecret !== undefined) mountConfirmPage(router, { engine, settings, secret: confirmationSecret, logger, metrics, ...(deps.now ? { now: deps.now } : {}) });
      if (provider !== undefined) {
        mountOidcLoginStep(router, { engine, provider, settings, logger, metrics, exchangeLimiter, ...(deps.now ? { now: deps.now } : {}) });
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
        cors: settings.allowedOrigins.length > 0 ? { origin: settings.allowedOrigins, credentials: true } : undefined,
      });
      nsp = io.of(LOGIN_NAMESPACE) as LoginNamespace;
      setUpLoginNamespace(nsp, {
        engine,
        issuer,
        watchers,
        settings,
        logger,
        metrics,
        ticketLimiter,
        isDraining: () => draining,
        ...(deps.now ? { now: deps.now } : {}),
      });
    },
    async drain(timeoutMs) {
      draining = true;
      if (nsp === undefined) return { remaining: 0 };
      const sockets = [...nsp.sockets.values()];
      logger.info({ sockets: sockets.length, timeoutMs }, 'draining: asking sockets to reconnect elsewhere');
      // Closing the transport (not the socket) makes the client reconnect by itself and resume its ticket.
      for (const socket of sockets) socket.conn.close();
      const deadline = Date.now() + timeoutMs;
      while (nsp.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return { remaining: nsp.sockets.size };
    },
    async close() {
      draining = true;
      watchers.close();
      if (io !== undefined) {
        io.disconnectSockets(true);
        await new Promise<void>((resolve) => io!.close(() => resolve()));
      }
    },
  };
}
