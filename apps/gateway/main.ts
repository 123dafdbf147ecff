/**
 * Runs one gateway process: Socket.IO + HTTP on PORT, on Redis (standalone or cluster).
 */
import { createServer } from 'node:http';
import { loadConfig, resolveGatewayRole } from '../../libs/config/index.js';
import { exitOnStartupError, listen, onShutdownSignal, openRuntime, serveMetrics } from '../../libs/runtime/index.js';
import { SESSION_NAMESPACE } from '../../libs/protocol/index.js';
import { createGatewayFromConfig } from './index.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  // One ConfigError naming every missing variable (Redis, WeChat credentials, tap mode's secret and URL),
  // before any connection is opened.
  const role = resolveGatewayRole(config);
  const {
    logger,
    metrics,
    engine,
    socketAdapter,
    close: closeEngine,
  } = openRuntime({ app: 'gateway', logLevel: config.LOG_LEVEL, engine: role.engine });
  // Waits for the engine's connections to be ready (an SSUBSCRIBE sent earlier could be lost).
  const sessionAdapter = await socketAdapter(SESSION_NAMESPACE);
  const { gateway, signer, oidc } = await createGatewayFromConfig(config, {
    engine,
    ...(sessionAdapter !== undefined ? { sessionAdapter } : {}),
    logger,
    metrics,
    issuer: config.PUBLIC_URL ?? 'qrgate',
    role,
  });
  if (signer.generated) logger.warn('SESSION_SIGNING_KEY is unset: using a generated key; sessions will not verify across gateways');
  const server = createServer(gateway.app.callback());
  gateway.attach(server);
  await listen(server, config.HOST, config.PORT);
  const metricsServer = await serveMetrics(metrics.registry, config.HOST, config.METRICS_PORT);
  logger.info(
    {
      port: config.PORT,
      metricsPort: metricsServer.port,
      engine: engine.kind,
      oidcIssuer: oidc?.issuer ?? null,
      oidcClients: oidc?.clients.length ?? 0,
    },
    'gateway listening',
  );

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
      await metricsServer.close();
      await closeEngine();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS + 5_000,
  );
}

bootstrap().catch(exitOnStartupError);
