/**
 * One process, one port: gateway + webhook + (without WECHAT_APPID) the WeChat simulator, on the memory
 * engine unless Redis is configured. Composes the apps through their exported factories only.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createGatewayFromConfig, type Gateway } from '../gateway/index.js';
import { createWebhook, webhookSettings, type WebhookSettings } from '../webhook/index.js';
import { SIM_DEMO_CREDENTIALS, createWechatSim, type WechatSim } from '../wechat-sim/index.js';
import { DEMO_HOST, engineChoice, isLoopbackHost, resolveGatewayRole, type Config, type GatewayRole } from '../../libs/config/index.js';
import type { Engine } from '../../libs/engine/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { SESSION_NAMESPACE } from '../../libs/protocol/index.js';
import { createHttpServer, listen, localUrl as localUrlOf, openRuntime, serveMetrics } from '../../libs/runtime/index.js';
import { OIDC_MOUNT_PATH } from '../../libs/oidc/oidc-settings.js';
import type { DemoRp } from './demo-rp.js';

/** Credentials of the built-in simulator (demo mode only; never valid at WeChat): the simulator's own. */
export const DEMO_WECHAT = SIM_DEMO_CREDENTIALS;

export interface Standalone {
  readonly server: Server;
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  readonly engine: Engine;
  readonly metrics: Metrics;
  /** Where the metrics listener (METRICS_PORT) answers `GET /metrics`; the public port has no metrics. */
  readonly metricsUrl: string;
  readonly gateway: Gateway;
  /** The simulator, in demo mode. */
  readonly sim: WechatSim | undefined;
  /** Demo mode listening on an interface other machines reach (HOST set to a non-loopback address). */
  readonly demoExposed: boolean;
  close(): Promise<void>;
}

export interface StandaloneOptions {
  logger?: Logger;
}

/** Start listening on `config.PORT` (0 for any free port) and wire everything. */
export async function startStandalone(config: Config, options: StandaloneOptions = {}): Promise<Standalone> {
  const demo = config.WECHAT_APPID === undefined;

  // Listening comes first (the simulator's URL needs the port); until everything is wired, say so.
  let route: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createHttpServer(
    (req, res) => {
      if (route !== undefined) return route(req, res);
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
      res.end('starting');
    },
    { requestTimeoutSeconds: config.HTTP_REQUEST_TIMEOUT_SECONDS },
  );
  // The demo stays on this machine unless HOST says otherwise (its simulator's credentials are public).
  const host = config.HOST ?? (demo ? DEMO_HOST : '0.0.0.0');
  const port = await listen(server, host, config.PORT);
  const localUrl = localUrlOf(host, port);
  const demoExposed = demo && !isLoopbackHost(host);
  const url = config.PUBLIC_URL ?? localUrl;

  const configured: Config = demo
    ? {
        ...config,
        WECHAT_APPID: DEMO_WECHAT.appId,
        WECHAT_SECRET: DEMO_WECHAT.appSecret,
        WECHAT_TOKEN: DEMO_WECHAT.token,
        WECHAT_API_BASE: localUrl,
        WECHAT_OAUTH_BASE: localUrl,
        PUBLIC_URL: config.PUBLIC_URL ?? localUrl,
      }
    : config;
  // One process signs and verifies the confirmation links, so a random secret is enough when none is set.
  const effective: Config = { ...configured, SESSION_SECRET: configured.SESSION_SECRET ?? randomBytes(32).toString('base64url') };
  let gatewayRole: GatewayRole;
  let hookSettings: WebhookSettings;
  try {
    // Every setting is checked before anything is opened: in tap mode (outside the demo) the phone must reach
    // PUBLIC_URL, so refuse now rather than at the first scan. One process: any engine will do.
    gatewayRole = resolveGatewayRole(effective, { inProcess: true });
    hookSettings = webhookSettings(effective, { inProcess: true });
  } catch (error) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw error;
  }

  // One process: the memory engine is enough, Redis when configured.
  const {
    logger,
    metrics,
    engine,
    socketAdapter,
    close: closeEngine,
  } = openRuntime({
    app: 'standalone',
    logLevel: config.LOG_LEVEL,
    engine: engineChoice(effective),
    replicaAckTimeoutMs: effective.REDIS_REPLICA_ACK_TIMEOUT_MS,
    ...(options.logger !== undefined ? { logger: options.logger } : {}),
  });
  const sim = demo
    ? createWechatSim({
        appId: DEMO_WECHAT.appId,
        appSecret: DEMO_WECHAT.appSecret,
        token: DEMO_WECHAT.token,
        ...(effective.WECHAT_AES_KEY !== undefined ? { encodingAesKey: effective.WECHAT_AES_KEY } : {}),
        webhookUrl: `${localUrl}/wechat`,
        // The 网页授权域名 of the demo account: where the in-WeChat login's callback lives.
        authorizationDomains: [new URL(effective.PUBLIC_URL ?? localUrl).host],
        exposed: demoExposed,
        logger,
      })
    : undefined;
  const webhook = createWebhook({ engine, config: hookSettings, logger, metrics });
  // The demo registers one client, its own sample relying party, so the whole OpenID Connect flow runs with no setup.
  // Loaded in demo mode only: openid-client is not needed otherwise.
  const demoRpModule = demo ? await import('./demo-rp.js') : undefined;
  const DEMO_RP_PATH = demoRpModule?.DEMO_RP_PATH ?? '/demo-rp';
  const demoRp: DemoRp | undefined = demoRpModule?.createDemoRp(url, `${effective.PUBLIC_URL!.replace(/\/+$/, '')}${OIDC_MOUNT_PATH}`);
  // On Redis, several standalone processes share sign-outs like gateways do (undefined on memory).
  const sessionAdapter = await socketAdapter(SESSION_NAMESPACE);
  const { gateway } = await createGatewayFromConfig(effective, {
    engine,
    ...(sessionAdapter !== undefined ? { sessionAdapter } : {}),
    logger,
    metrics,
    issuer: url,
    role: gatewayRole,
    ...(demo ? { simulatorUrl: '/sim', demoExposed } : {}),
    ...(demoRp !== undefined ? { demo: { oidcClients: [demoRp.client], demoRpUrl: `${DEMO_RP_PATH}/` } } : {}),
  });

  const handleGateway = gateway.app.callback();
  const handleWebhook = webhook.callback();
  const handleSim = sim?.app.callback();
  const handleDemoRp = demoRp?.app.callback();
  gateway.attach(server);
  route = (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/wechat') return void handleWebhook(req, res);
    const simPath =
      path.startsWith('/cgi-bin/') ||
      path.startsWith('/sns/') ||
      path.startsWith('/connect/oauth2/') ||
      path === '/sim' ||
      path.startsWith('/sim/');
    if (handleSim !== undefined && simPath) {
      return void handleSim(req, res);
    }
    if (handleDemoRp !== undefined && (path === DEMO_RP_PATH || path.startsWith(`${DEMO_RP_PATH}/`))) return void handleDemoRp(req, res);
    return void handleGateway(req, res);
  };

  const metricsServer = await serveMetrics(metrics.registry, host, config.METRICS_PORT, config.HTTP_REQUEST_TIMEOUT_SECONDS);
  logger.info({ url, engine: engine.kind, demo, metricsPort: metricsServer.port }, 'qrgate standalone listening');
  if (demoExposed) {
    logger.warn({ host }, 'DEMO MODE IS REACHABLE FROM THE NETWORK: anyone who reaches this port can log in as any simulated user');
  }
  return {
    server,
    url,
    engine,
    metrics,
    metricsUrl: metricsServer.url,
    gateway,
    sim,
    demoExposed,
    async close() {
      await metricsServer.close();
      await gateway.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sim?.close();
      await closeEngine();
    },
  };
}
