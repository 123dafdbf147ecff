/**
 * Runs one webhook process: WeChat's pushes on PORT, on Redis (standalone or cluster), so that any number of
 * webhook instances share dedupe marks and reach every gateway through the bus.
 */
import { createServer } from 'node:http';
import { exitOnStartupError, loadConfig, onShutdownSignal, usesRedis } from '../../libs/config/index.js';
import { createEngineFromConfig } from '../../libs/engine/index.js';
import { createLogger, createMetrics } from '../../libs/observability/index.js';
import { createWebhook, REPLY_DEADLINE_MS, webhookSettings } from './index.js';

/** Read the configuration, refuse to start without Redis or WeChat credentials, listen, and drain on SIGTERM. */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  if (!usesRedis(config)) {
    // In memory the webhook's tickets would be invisible to every gateway.
    throw new Error('the webhook needs Redis: set REDIS_URL (or REDIS_CLUSTER_NODES). For a single-process demo run `npm start`.');
  }
  // Throws a ConfigError naming WECHAT_TOKEN / WECHAT_APPID when they are missing.
  const settings = webhookSettings(config);
  const logger = createLogger({ app: 'webhook', level: config.LOG_LEVEL });
  const metrics = createMetrics();
  const { engine, close: closeEngine } = createEngineFromConfig(
    config,
    { busMessageReceived: () => metrics.busMessagesReceived.inc() },
    { onConnectionError: (err, role) => logger.error({ err, role }, 'redis connection error') },
  );
  const server = createServer(createWebhook({ engine, config: settings, logger, metrics }).callback());
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  logger.info(
    { port: config.PORT, engine: engine.kind, safeMode: settings.aesKey !== undefined, confirmation: settings.confirmation },
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
      await closeEngine();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS + 5_000,
  );
}

bootstrap().catch(exitOnStartupError);
