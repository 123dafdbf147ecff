/**
 * How many Redis round trips a scan push costs the webhook, end to end over HTTP on a private Redis (issue 10
 * item 2: "one short trip per scan"). Between the webhook and Redis sits a proxy that holds every answer from
 * Redis for a while, as a network would: commands the webhook sends together all leave before the first answer
 * is back, so a round trip is one turn of the conversation, the webhook sending after it last heard from
 * Redis. It counts turns, never time.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhook } from '../../apps/webhook/index.js';
import { createRedisClients, createRedisEngine, type RedisClients, type RedisEngine } from '../../libs/engine/index.js';
import { createMetrics } from '../../libs/observability/index.js';
import type { Ticket } from '../../libs/ticket/index.js';
import { readReply, signPush } from '../../libs/wechat/index.js';
import { APP_ID, TOKEN } from '../support/fixtures.js';
import { fetchText, serve } from '../support/http.js';
import { logSink } from '../support/log-sink.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { createPendingTicket, scanEvent } from '../support/webhook-harness.js';

/** How long the proxy holds each answer from Redis, ms: far longer than the webhook's work between sends. */
const ANSWER_DELAY_MS = 40;

/** A TCP proxy to `port` that counts, per connection, the times the client spoke after hearing the server. */
async function turnCountingProxy(port: number): Promise<{ port: number; turns(): number; reset(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let turns = 0;
  const heard = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    heard.add(client);
    client.on('data', (data) => {
      if (heard.delete(client)) turns++;
      upstream.write(data);
    });
    upstream.on('data', (data) => {
      setTimeout(() => {
        heard.add(client);
        client.write(data);
      }, ANSWER_DELAY_MS);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  return {
    port: address.port,
    turns: () => turns,
    reset() {
      turns = 0;
      // Whoever speaks next starts a turn.
      for (const socket of sockets) heard.add(socket);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a scan push', () => {
  let redis: RedisServerHandle;
  let proxy: Awaited<ReturnType<typeof turnCountingProxy>>;
  let clients: RedisClients;
  let engine: RedisEngine;
  let server: Awaited<ReturnType<typeof serve>>;

  beforeAll(async () => {
    redis = await startRedisServer();
    proxy = await turnCountingProxy(redis.port);
    clients = createRedisClients({ url: `redis://127.0.0.1:${proxy.port}` });
    engine = createRedisEngine({ client: clients.client, subscriber: clients.subscriber });
    const webhook = createWebhook({
      engine,
      config: { token: TOKEN, appId: APP_ID, requireEncryption: false, maxSkewSeconds: 300, confirmation: 'scan' },
      logger: pino({ level: 'info' }, logSink().stream),
      metrics: createMetrics({ defaultMetrics: false }),
    });
    server = await serve(webhook.callback());
  });

  afterAll(async () => {
    await server?.close();
    await engine?.close();
    await clients?.quit();
    await proxy?.close();
    await redis?.stop();
  });

  const createTicket = (): Promise<Ticket> => createPendingTicket(engine);

  const scan = async (ticket: Ticket, openid: string): Promise<string | null> => {
    const signed = signPush(scanEvent(ticket, { openid }), { token: TOKEN });
    const reply = await fetchText(`${server.url}/wechat?${signed.query}`, {
      method: 'POST',
      body: signed.body,
      headers: { 'content-type': 'text/xml' },
    });
    expect(reply.status).toBe(200);
    return readReply(reply.body).content;
  };

  it('that logs a browser in costs the webhook three round trips to Redis', async () => {
    // A first scan loads the scripts, so the one counted runs as in a long-lived process.
    await scan(await createTicket(), 'o_warm');
    const ticket = await createTicket();

    proxy.reset();
    const reply = await scan(ticket, 'o_counted');

    // The replay mark with the delivery claim and the ticket read; the compare-and-set with its doorbell and
    // the login count; the delivery's answer.
    expect(proxy.turns()).toBe(3);
    expect(reply).toMatch(/第 1 次/);
    expect((await engine.tickets.get(ticket.id))?.status).toBe('confirmed');
  });
});
