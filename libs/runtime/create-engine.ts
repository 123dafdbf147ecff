/**
 * The one place an engine is created: from the {@link EngineChoice} the configuration resolved to, with the
 * connections it needs. Every `main.ts` (and apps/standalone) comes here, so the engine library itself never
 * reads configuration.
 */
import type { EngineChoice } from '../config/index.js';
import {
  createMemoryEngine,
  createRedisClients,
  createRedisEngine,
  type Engine,
  type EngineObserver,
  type RedisConnection,
  type RedisErrorHandler,
} from '../engine/index.js';

export interface CreateEngineOptions {
  /** Told about bus traffic (the apps count it). */
  observer?: EngineObserver;
  /** Where Redis connection errors go. Default: one line on stderr per error. */
  onConnectionError?: RedisErrorHandler;
  /** REDIS_REPLICA_ACK_TIMEOUT_MS: how long a durable write waits for a Cluster replica. Default: the engine's. */
  replicaAckTimeoutMs?: number;
  /** Auto-pipeline the command connection of a single Redis server (`createRedisClients`). Default off. */
  autoPipelining?: boolean;
}

/** An engine and the function that closes it together with any connections opened for it. */
export interface ConfiguredEngine {
  engine: Engine;
  /** The Redis engine's two connections (for the `/session` adapter, `session-adapter.ts`); none on memory. */
  connections?: { client: RedisConnection; subscriber: RedisConnection };
  close(): Promise<void>;
}

export function createEngine(choice: EngineChoice, options: CreateEngineOptions = {}): ConfiguredEngine {
  const { observer } = options;
  if (choice.kind === 'memory') {
    const engine = createMemoryEngine(observer === undefined ? {} : { observer });
    return { engine, close: () => engine.close() };
  }
  const clients = createRedisClients({
    ...(choice.kind === 'redis-cluster' ? { clusterNodes: choice.nodes } : { url: choice.url }),
    ...(options.onConnectionError !== undefined ? { onError: options.onConnectionError } : {}),
    ...(options.autoPipelining !== undefined ? { autoPipelining: options.autoPipelining } : {}),
  });
  const engine = createRedisEngine({
    client: clients.client,
    subscriber: clients.subscriber,
    ...(observer !== undefined ? { observer } : {}),
    ...(options.replicaAckTimeoutMs !== undefined ? { replicaAckTimeoutMs: options.replicaAckTimeoutMs } : {}),
  });
  return {
    engine,
    connections: { client: clients.client, subscriber: clients.subscriber },
    async close(): Promise<void> {
      // The engine first, so it can still SUNSUBSCRIBE over the connections it is about to lose.
      try {
        await engine.close();
      } finally {
        await clients.quit();
      }
    },
  };
}
