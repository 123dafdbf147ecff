/**
 * The delivery floor's publisher: a headless Socket.IO server (no HTTP listener) on the sharded
 * `@socket.io/redis-adapter` that emits `login { ticket, code, user }` to each ticket's room at a fixed rate,
 * recording when each was sent. One publish and one delivery per login: the least a scan can cost.
 * Environment: REDIS_URL. Runs as a bench worker (`startWorker`).
 */
import { randomBytes } from 'node:crypto';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { paced, serveWorker, wallNow } from '../workers/worker-protocol.js';
import type { PushResult } from '../workers/scan-pusher.js';

const redisUrl = process.env.REDIS_URL;
if (redisUrl === undefined || redisUrl === '') throw new Error('REDIS_URL is required');
const pub = new Redis(redisUrl);
const sub = new Redis(redisUrl);
for (const client of [pub, sub]) client.on('error', (error: Error) => process.stderr.write(`publisher redis: ${error.message}\n`));
const io = new Server({ serveClient: false });
io.adapter(createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' }));
const login = io.of('/login');

async function pace(args: { tickets: string[]; rate: number }): Promise<PushResult> {
  const sent: Array<[string, number]> = [];
  const started = wallNow();
  await paced(args.tickets.length, args.rate, async (i) => {
    const ticket = args.tickets[i]!;
    sent.push([ticket, wallNow()]);
    login.to(ticket).emit('login', { ticket, code: randomBytes(16).toString('base64url'), user: { openid: `o_floor_${i}` } });
  });
  return { sent, statuses: { '200': sent.length }, elapsedMs: wallNow() - started };
}

serveWorker({ pace }, async () => {
  io.close();
  pub.disconnect();
  sub.disconnect();
});
