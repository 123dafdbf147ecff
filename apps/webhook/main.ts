/**
 * Runs one webhook process: WeChat's pushes on PORT, on Redis (standalone or cluster), so that any number of
 * webhook instances share dedupe marks and reach every gateway through the bus.
 */
import { engineChoice, loadConfig } from '../../libs/config/index.js';
import { createHttpServer, exitOnStartupError, listen, onShutdownSignal, openRuntime, serveMetrics } from '../../libs/runtime/index.js';
import { createWebhook, REPLY_DEADLINE_MS, webhookSettings } from './index.js';

/** Read the configuration, refuse to start without Redis or WeChat credentials, listen, and drain on SIGTERM. */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  // One ConfigError naming every problem: Redis (in memory the webhook's tickets would be invisible to every
  // gateway), WECHAT_TOKEN / WECHAT_APPID, tap mode's SESSION_SECRET and PUBLIC_URL.
  const settings = webhookSettings(config);
  const {
    logger,
    metrics,
    engine,
    close: closeEngine,
  } = openRuntime({
    app: 'webhook',
    logLevel: config.LOG_LEVEL,
    engine: engineChoice(config),
    replicaAckTimeoutMs: config.REDIS_REPLICA_ACK_TIMEOUT_MS,
    // Each push is a handful of short commands from many concurrent requests: they share writes.
    autoPipelining: true,
  });
  const server = createHttpServer(createWebhook({ engine, config: settings, logger, metrics }).callback(), {
    requestTimeoutSeconds: config.HTTP_REQUEST_TIMEOUT_SECONDS,
  });
  const host = config.HOST ?? '0.0.0.0';
  await listen(server, host, config.PORT);
  const metricsServer = await serveMetrics(metrics.registry, host, config.METRICS_PORT, config.HTTP_REQUEST_TIMEOUT_SECONDS);
  logger.info(
    {
      port: config.PORT,
      metricsPort: metricsServer.port,
      engine: engine.kind,
      safeMode: settings.aesKey !== undefined,
      confirmation: settings.confirmation,
    },
    'webhook listening',
  );

  onShutdownSignal(
    async () => {
      // In-flight pushes finish (each answers within REPLY_DEADLINE_MS) before the engine goes away.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A connection with no request yet (a load balancer's pre-connect) or a half-sent one is not idle to Node
      // and would hold the close until the hard deadline (exit 1): cut what is left once replies are overdue.
      const cutoff = setTimeout(() => server.closeAllConnections(), Math.min(REPLY_DEADLINE_MS + 500, config.SHUTDOWN_TIMEOUT_MS));
      try {
        await closed;
      } finally {
        clearTimeout(cutoff);
      }
      await metricsServer.close();
      await closeEngine();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS + 5_000,
  );
}

bootstrap().catch(exitOnStartupError);
