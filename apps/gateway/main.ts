/**
 * Runs one gateway process: Socket.IO + HTTP on PORT, on Redis (standalone or cluster).
 */
import { createServer } from 'node:http';
import { confirmationLinkConfig, exitOnStartupError, loadConfig, onShutdownSignal, usesRedis, wechatCredentials } from '../../libs/config/index.js';
import { createEngineFromConfig } from '../../libs/engine/index.js';
import { createLogger, createMetrics } from '../../libs/observability/index.js';
import { createGatewayFromConfig } from './index.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  if (!usesRedis(config)) {
    throw new Error('the gateway needs Redis: set REDIS_URL (or REDIS_CLUSTER_NODES). For a single-process demo run `npm start`.');
  }
  const credentials = wechatCredentials(config);
  if (!credentials.ok) throw new Error(`the gateway needs WeChat credentials: set ${credentials.missing.join(', ')}`);
  // Throws a ConfigError naming SESSION_SECRET and PUBLIC_URL in tap mode without them (before any connection).
  confirmationLinkConfig(config);
  const logger = createLogger({ app: 'gateway', level: config.LOG_LEVEL });
  const metrics = createMetrics();
  const { engine, close: closeEngine } = createEngineFromConfig(
    config,
    { busMessageReceived: () => metrics.busMessagesReceived.inc() },
    { onConnectionError: (err, role) => logger.error({ err, role }, 'redis connection error') },
  );
  const { gateway, signer, oidc } = await createGatewayFromConfig(config, {
    engine,
    logger,
    metrics,
    issuer: config.PUBLIC_URL ?? 'qrgate',
  });
  if (signer.generated) logger.warn('SESSION_SIGNING_KEY is unset: using a generated key; sessions will not verify across gateways');
  const server = createServer(gateway.app.callback());
  gateway.attach(server);
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  logger.info({ port: config.PORT, engine: engine.kind, oidcIssuer: oidc?.issuer ?? null, oidcClients: oidc?.clients.length ?? 0 }, 'gateway listening');

  onShutdownSignal(
    async () => {
      // Stop taking new connections first so reconnecting browsers land on another gateway.
      server.close();
      const { remaining } = await gateway.drain(config.SHUTDOWN_TIMEOUT_MS);
      logger.info({ remaining }, 'drained');
      // A connection with no request yet (a load balancer's pre-connect) or a half-sent one is not idle to Node,
      // and would hold the server's close, and so `gateway.close()`, until the hard deadline (exit 1).
      server.closeAllConnections();
      await gateway.close();
      await closeEngine();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS + 5_000,
  );
}

bootstrap().catch(exitOnStartupError);
