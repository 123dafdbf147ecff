/**
 * Writes a Redis Cluster replica has acknowledged. A master answers a write before it replicates it, so a
 * master SIGKILLed right after the answer takes the write with it: the promoted replica never had it. For a
 * write whose answer goes out to someone who will never ask again (WeChat, once it got 200 for a scan), the
 * engine sends `WAIT 1 <timeout>` on the connection that carried the write and, when no replica acknowledged
 * in time, fails the call, so that the caller answers with an error and gets the push again.
 *
 * ioredis routes a key's commands to `cluster.slots[slot][0]`, the master's `host:port`, over the connection
 * `cluster.nodes('master')` holds for it (its connection pool keys nodes by the same `host:port`), so the
 * write and its WAIT are sent on that one connection, in order. Standalone Redis, and a master the cluster
 * lists with no replica, are left alone: there is nothing to wait for.
 */
import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';

/** Thrown when no replica acknowledged a write within the timeout: the write may be lost in a failover. */
export class ReplicaUnconfirmedError extends Error {
  constructor(key: string, timeoutMs: number) {
    super(`no replica acknowledged the write of ${key} within ${timeoutMs} ms`);
    this.name = 'ReplicaUnconfirmedError';
  }
}

/** How long a write waits for a replica's acknowledgement by default, ms: replication takes well under 1 ms. */
export const REPLICA_ACK_TIMEOUT_MS = 1_000;

// The slot function ioredis routes by (its own dependency, CommonJS and untyped).
const require = createRequire(import.meta.url);
const keySlot = require('cluster-key-slot') as (key: string) => number;

/**
 * The connection to the master that owns `key`'s slot when that master has a replica, or null (standalone
 * Redis, slots not known yet, or no replica listed). Throws when the cluster lists the master but holds no
 * connection to it (its view is changing: the caller fails, and the push comes again).
 */
export function replicatedMasterOf(client: Redis | Cluster, key: string): Redis | null {
  if (!client.isCluster) return null;
  const cluster = client as Cluster;
  const owners = cluster.slots[keySlot(key)];
  if (owners === undefined || owners.length < 2) return null;
  const [master] = owners;
  const connection = cluster.nodes('master').find((node) => `${node.options.host}:${node.options.port}` === master);
  if (connection === undefined) throw new Error(`no connection to ${master}, the master of ${key}`);
  return connection;
}

/** `WAIT 1 <timeoutMs>` on `connection`: resolves when a replica has every write sent on it so far. */
export async function waitForReplica(connection: Redis, key: string, timeoutMs: number): Promise<void> {
  const acknowledged = Number(await connection.call('WAIT', '1', String(timeoutMs)));
  if (acknowledged < 1) throw new ReplicaUnconfirmedError(key, timeoutMs);
}
