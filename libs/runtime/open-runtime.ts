/**
 * What every server process opens first: its logger, its metrics, and its engine (counting bus traffic and
 * logging connection errors the same way everywhere).
 */
import type { EngineChoice } from '../config/index.js';
import type { Engine } from '../engine/index.js';
import { createLogger, createMetrics, type Logger, type Metrics } from '../observability/index.js';
import { createEngine } from './create-engine.js';
import { createSessionAdapter, type SessionAdapter } from './session-adapter.js';

export interface Runtime {
  logger: Logger;
  metrics: Metrics;
  engine: Engine;
  /**
   * The adapter that carries namespace `namespace`'s broadcasts to every process on the same Redis or Cluster
   * (created once the connections are ready); undefined on the memory engine.
   */
  socketAdapter(namespace: string): Promise<SessionAdapter | undefined>;
  /** Close the engine and its connections. */
  close(): Promise<void>;
}

export function openRuntime(options: {
  app: string;
  logLevel: string;
  engine: EngineChoice;
  logger?: Logger;
  /** REDIS_REPLICA_ACK_TIMEOUT_MS. Default: the engine's. */
  replicaAckTimeoutMs?: number;
  /** Auto-pipeline the command connection of a single Redis server (`createRedisClients`). Default off. */
  autoPipelining?: boolean;
}): Runtime {
  const logger = options.logger ?? createLogger({ app: options.app, level: options.logLevel });
  const metrics = createMetrics();
  const { engine, close, connections } = createEngine(options.engine, {
    observer: { busMessageReceived: () => metrics.busMessagesReceived.inc() },
    onConnectionError: (err, role) => logger.error({ err, role }, 'redis connection error'),
    ...(options.replicaAckTimeoutMs !== undefined ? { replicaAckTimeoutMs: options.replicaAckTimeoutMs } : {}),
    ...(options.autoPipelining !== undefined ? { autoPipelining: options.autoPipelining } : {}),
  });
  return {
    logger,
    metrics,
    engine,
    socketAdapter: async (namespace) => (connections === undefined ? undefined : createSessionAdapter(connections, namespace)),
    close,
  };
}
