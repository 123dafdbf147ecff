/**
 * Runs one gateway process: Socket.IO + HTTP on PORT, on Redis (standalone or cluster).
 */
import { loadConfig, resolveGatewayRole } from '../../libs/config/index.js';
import { createHttpServer, exitOnStartupError, listen, onShutdownSignal, openRuntime, serveMetrics } from '../../libs/runtime/index.js';
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
  } = openRuntime({
    app: 'gateway',
    logLevel: config.LOG_LEVEL,
    engine: role.engine,
    replicaAckTimeoutMs: config.REDIS_REPLICA_ACK_TIMEOUT_MS,
  });
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
  const server = createHttpServer(gateway.app.callback(), { requestTimeoutSeconds: config.HTTP_REQUEST_TIMEOUT_SECONDS });
  gateway.attach(server);
  const host = config.HOST ?? '0.0.0.0';
  await listen(server, host, config.PORT);
  const metricsServer = await serveMetrics(metrics.registry, host, config.METRICS_PORT, config.HTTP_REQUEST_TIMEOUT_SECONDS);
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
