/**
 * The Socket.IO adapter of namespace `/session` (issue 12): `@socket.io/redis-adapter`'s sharded adapter on the
 * engine's own Redis or Cluster connections, so `session_ended` / `session_started` reach a user's pages on
 * every gateway.
 *
 * Two choices, and why:
 * - It is created only once both connections are `ready`, and only after this process's SSUBSCRIBE of the
 *   namespace channel was answered. An SSUBSCRIBE that ioredis writes while a connection is still in its
 *   ready check is silently lost (issue 12; a Cluster's sharded subscribers each have their own), and the
 *   adapter sends its SSUBSCRIBE without waiting for the reply: that gateway would never hear a sign-out.
 * - `subscriptionMode: 'static'`: every message of the namespace travels on its one channel. Session events
 *   are rare (one per sign-in or sign-out, not per scan), and one channel keeps `session_ended` ahead of the
 *   disconnect that follows it on every gateway, and has no per-room SSUBSCRIBE to lose at a join (the
 *   dynamic mode's join race, research/ecosystem.md §4.2).
 */
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { RedisConnection } from '../engine/index.js';

/** What a Socket.IO server takes as its (per-namespace) adapter. */
export type SessionAdapter = ReturnType<typeof createShardedAdapter>;

/** Channel prefix of qrgate's adapter messages: apart from the engine's own `qrgate:` keys and channels, and from another app's default `socket.io`. */
export const SESSION_ADAPTER_PREFIX = 'qrgate-socket.io';

/** Resolves when `connection` is ready (now or later); rejects if it ends first. */
export function connectionReady(connection: RedisConnection): Promise<void> {
  if (connection.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      connection.off('end', onEnd);
      resolve();
    };
    const onEnd = (): void => {
      connection.off('ready', onReady);
      reject(new Error('the Redis connection ended before it was ready'));
    };
    connection.once('ready', onReady);
    connection.once('end', onEnd);
  });
}

/** The adapter for `namespace`, once `client` and `subscriber` are ready and the namespace channel is subscribed. */
export async function createSessionAdapter(
  connections: { client: RedisConnection; subscriber: RedisConnection },
  namespace: string,
): Promise<SessionAdapter> {
  const { client, subscriber } = connections;
  await Promise.all([connectionReady(client), connectionReady(subscriber)]);
  // Answered means active: the adapter's own (unanswered) SSUBSCRIBE of the same channel then changes nothing.
  await subscriber.ssubscribe(`${SESSION_ADAPTER_PREFIX}#${namespace}#`);
  return createShardedAdapter(client, subscriber, { channelPrefix: SESSION_ADAPTER_PREFIX, subscriptionMode: 'static' });
}
