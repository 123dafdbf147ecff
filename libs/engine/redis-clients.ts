/**
 * Opening the Redis connections the Redis engine runs on: a helper for the composition root (`libs/runtime`
 * chooses the engine). Libraries never open connections themselves; they take the ones made here.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConnection } from './redis-engine.js';

/** Which of the two connections an error came from. */
export type RedisConnectionRole = 'client' | 'subscriber';

/** Receives every error a connection emits (refused connections, resets, failed reconnects). */
export type RedisErrorHandler = (error: Error, role: RedisConnectionRole) => void;

/** Options of {@link createRedisClients}. Exactly one of `url` and `clusterNodes` is needed. */
export interface RedisClientsOptions {
  /** `redis://` or `rediss://` URL of a single server. */
  url?: string;
  /** Cluster seed nodes as `host:port`; takes precedence over `url`. */
  clusterNodes?: string[];
  /** Where connection errors go. Default: one line on stderr per error. */
  onError?: RedisErrorHandler;
  /**
   * Auto-pipeline the single-server command connection: commands issued in the same tick go out as one write,
   * so concurrent requests share writes and reads instead of a syscall each (the webhook: ~10 % of its CPU per
   * scan, half of Redis' CPU per scan, `npm run bench`). Order is kept per connection. Default off: on the
   * gateway it saved no measurable CPU per login and its resident memory per waiting browser grew by a third
   * (17 to 25 KiB between 5,000 and 15,000 sockets). Never on the subscriber, whose SSUBSCRIBE replies are
   * pushes, nor on a Cluster: there ioredis batches per node and handles a MOVED reply for the whole batch,
   * which fails commands while slots move (ioredis#2075, open), the very failover a Cluster is for.
   */
  autoPipelining?: boolean;
}

/** A command connection and a subscriber connection, closed together. */
export interface RedisClients {
  client: RedisConnection;
  subscriber: RedisConnection;
  /** Close both connections: QUIT, or a hard disconnect when the server does not answer within a second. */
  quit(): Promise<void>;
}

/**
 * A command queued while Redis is unreachable fails after this many reconnection attempts instead of waiting
 * forever, so a request handler gets an error it can report (ioredis' default, 20, holds a request for ~10 s).
 */
const MAX_RETRIES_PER_REQUEST = 3;

const QUIT_TIMEOUT_MS = 1_000;

/** How often a Cluster client re-reads the slot map (which master owns a slot, and its replicas), ms. */
const SLOTS_REFRESH_INTERVAL_MS = 5_000;

/**
 * Open the two connections the Redis engine needs. For a cluster, the subscriber is created with
 * `shardedSubscribers: true`: ioredis then keeps one subscriber connection per master and sends each SSUBSCRIBE
 * to the master owning the channel's slot, and re-emits `smessage` on the Cluster object. Without the option
 * SSUBSCRIBE goes to one arbitrary node, which answers MOVED for channels it does not own.
 */
export function createRedisClients(options: RedisClientsOptions): RedisClients {
  const onError: RedisErrorHandler =
    options.onError ??
    ((error, role) => {
      console.error(`qrgate: redis ${role} connection error: ${error.message}`);
    });
  const redisOptions: RedisOptions = { lazyConnect: false, maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST };

  let client: RedisConnection;
  let subscriber: RedisConnection;
  if (options.clusterNodes !== undefined && options.clusterNodes.length > 0) {
    const nodes = options.clusterNodes.map(parseHostPort);
    // ioredis reads the slot map at connect and after a MOVED only: refreshed every few seconds, it also learns
    // of replicas that joined later (a failed master back as a replica), which durable writes wait for.
    const clusterOptions: ClusterOptions = { lazyConnect: false, redisOptions, slotsRefreshInterval: SLOTS_REFRESH_INTERVAL_MS };
    client = new Cluster(nodes, clusterOptions);
    subscriber = new Cluster(nodes, { ...clusterOptions, shardedSubscribers: true });
  } else if (options.url !== undefined) {
    client = new Redis(options.url, { ...redisOptions, enableAutoPipelining: options.autoPipelining === true });
    subscriber = new Redis(options.url, redisOptions);
  } else {
    throw new Error('createRedisClients needs a url or cluster nodes');
  }
  client.on('error', (error: Error) => onError(error, 'client'));
  subscriber.on('error', (error: Error) => onError(error, 'subscriber'));

  return {
    client,
    subscriber,
    async quit(): Promise<void> {
      await Promise.all([client, subscriber].map(quitOrDisconnect));
    },
  };
}

function parseHostPort(node: string): { host: string; port: number } {
  const at = node.lastIndexOf(':');
  const port = Number(node.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`cluster node must be host:port, got ${JSON.stringify(node)}`);
  }
  return { host: node.slice(0, at), port };
}

async function quitOrDisconnect(connection: RedisConnection): Promise<void> {
  if (connection.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), QUIT_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([connection.quit().then(() => 'quit' as const), timedOut]);
    if (outcome === 'timeout') connection.disconnect();
  } catch {
    // QUIT fails when the connection is already broken; dropping it is all that is left to do.
    connection.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
