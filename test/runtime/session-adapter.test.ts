/**
 * The `/session` adapter is asked for while the connections are still in their ready check (connected, not
 * ready), as a gateway starting up may: it must still hear every broadcast. An SSUBSCRIBE written while ioredis is in its
 * ready check is lost without an error (issue 12), which would leave that gateway deaf to every sign-out; the
 * adapter is therefore created only on ready connections with its channel subscribed (session-adapter.ts).
 * On a private Redis and on a private Redis Cluster.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClients, type RedisClients } from '../../libs/engine/index.js';
import { createSessionAdapter } from '../../libs/runtime/index.js';
import { startRedisCluster, startRedisServer } from '../support/redis-server.js';

const NAMESPACE = '/session';

const stores: Array<[string, () => Promise<{ options: { url: string } | { clusterNodes: string[] }; stop(): Promise<void> }>]> = [
  [
    'redis',
    async () => {
      const redis = await startRedisServer();
      return { options: { url: redis.url }, stop: () => redis.stop() };
    },
  ],
  [
    'redis cluster',
    async () => {
      const cluster = await startRedisCluster();
      return { options: { clusterNodes: cluster.nodes }, stop: () => cluster.stop() };
    },
  ],
];

describe.each(stores)('the /session adapter on %s', (_name, startStore) => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const step of cleanup.reverse()) await step();
    cleanup.length = 0;
  });

  /** A Socket.IO server on its own fresh connections, its adapter asked for at once (nothing is ready yet). */
  async function server(options: { url: string } | { clusterNodes: string[] }): Promise<{ io: Server; url: string }> {
    const clients: RedisClients = createRedisClients({ ...options, onError: () => {} });
    cleanup.push(() => clients.quit());
    // The trap's moment: connected, but still in the ready check (an SSUBSCRIBE written now is lost).
    await new Promise((resolve) => clients.subscriber.once('connect', resolve));
    expect(clients.subscriber.status).toBe('connect');
    const adapter = await createSessionAdapter(clients, NAMESPACE);
    const http: HttpServer = createServer();
    const io = new Server(http, { adapter });
    // The namespace (and so the adapter's SSUBSCRIBE) at once, as a gateway's attach() does.
    io.of(NAMESPACE).on('connection', (socket) => void socket.join('user:u1'));
    cleanup.push(() => new Promise<void>((resolve) => io.close(() => resolve())));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return { io, url: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
  }

  it('hears a broadcast from another process right after start-up', async () => {
    const store = await startStore();
    cleanup.push(() => store.stop());
    const listening = await server(store.options);
    const sender = await server(store.options);
    const page: Socket = connect(`${listening.url}${NAMESPACE}`, { transports: ['websocket'], forceNew: true, reconnection: false });
    cleanup.push(async () => void page.close());
    const got: unknown[] = [];
    page.on('session_ended', (payload: unknown) => got.push(payload));
    await new Promise<void>((resolve) => page.once('connect', () => resolve()));
    // The room is joined on the listening server; give the join a moment (it is local, in-process).
    await new Promise((resolve) => setTimeout(resolve, 100));
    sender.io.of(NAMESPACE).to('user:u1').emit('session_ended', { sid: 's1', reason: 'revoked' });
    const deadline = Date.now() + 10_000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(got).toEqual([{ sid: 's1', reason: 'revoked' }]);
  }, 60_000);
});
