/**
 * A scan is answered 200 only once a Redis Cluster replica has its ticket write (issue 9, scenario e): a
 * master SIGKILLed right after answering a write takes the write with it, and WeChat never re-sends a push it
 * got 200 for. On a private six-node cluster, the replica of the ticket's master is stopped (SIGSTOP) while
 * the scan is written: the webhook answers 503 (and again to a re-send while the replica is still away, which
 * finds the ticket moved but not yet replicated), nobody is told, and WeChat's re-send after the replica is
 * back logs the browser in exactly once. Each 503 counts in `qrgate_replica_unconfirmed_total{operation="scan"}`.
 * With the replicas healthy the scan is answered 200 at once.
 */
import { createRequire } from 'node:module';
import type { Cluster } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebhook } from '../../apps/webhook/index.js';
import { createRedisClients, createRedisEngine, type RedisClients, type RedisEngine, type TicketChange } from '../../libs/engine/index.js';
import { createMetrics } from '../../libs/observability/index.js';
import type { Ticket } from '../../libs/ticket/index.js';
import { readReply, signPush } from '../../libs/wechat/index.js';
import { startFaultCluster, waitFor, type FaultCluster, type RedisNode } from '../faults/support/redis-nodes.js';
import { APP_ID, TOKEN } from '../support/fixtures.js';
import { fetchText, serve } from '../support/http.js';
import { logSink } from '../support/log-sink.js';
import { createPendingTicket, scanEvent } from '../support/webhook-harness.js';

const require = createRequire(import.meta.url);
const keySlot = require('cluster-key-slot') as (key: string) => number;

/** Short, so that the paused replica is back long before the cluster would call it failed (2 s). */
const ACK_TIMEOUT_MS = 300;

describe('a scan on a Redis Cluster', () => {
  let cluster: FaultCluster;
  let clients: RedisClients;
  let engine: RedisEngine;
  let server: Awaited<ReturnType<typeof serve>>;
  const sink = logSink();
  const rings: TicketChange[] = [];
  const metrics = createMetrics({ defaultMetrics: false });
  /** `qrgate_replica_unconfirmed_total{operation="scan"}`. */
  const unconfirmed = async (): Promise<number> =>
    (await metrics.replicaUnconfirmed.get()).values.find((v) => v.labels.operation === 'scan')?.value ?? 0;

  beforeAll(async () => {
    cluster = await startFaultCluster();
    clients = createRedisClients({ clusterNodes: cluster.seeds.split(','), onError: () => undefined });
    engine = createRedisEngine({ client: clients.client, subscriber: clients.subscriber, replicaAckTimeoutMs: ACK_TIMEOUT_MS });
    engine.events.onRing((change) => rings.push(change));
    const webhook = createWebhook({
      engine,
      config: { token: TOKEN, appId: APP_ID, requireEncryption: false, maxSkewSeconds: 300, confirmation: 'scan' },
      logger: pino({ level: 'info' }, sink.stream),
      metrics,
    });
    server = await serve(webhook.callback());
    // Every replica synced, and listed in the client's slot map (ioredis refreshes it every few seconds).
    const client = clients.client as Cluster;
    await waitFor('every replica in sync and known to the client', 60_000, async () => {
      return (await cluster.replicasSynced()) && client.slots.length === 16_384 && client.slots.every((owners) => owners.length >= 2);
    });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    await engine?.close();
    await clients?.quit();
    await cluster?.remove();
  });

  const createTicket = async (): Promise<Ticket> => {
    const ticket = await createPendingTicket(engine);
    await engine.events.subscribe(ticket.id);
    return ticket;
  };

  /** The replica of the master that owns the ticket's slot, as the client's slot map lists it. */
  const replicaOf = (ticket: Ticket): RedisNode => {
    const owners = (clients.client as Cluster).slots[keySlot(`qrgate:{${ticket.id}}:ticket`)] ?? [];
    expect(owners.length).toBeGreaterThanOrEqual(2);
    const replica = cluster.nodes.find((node) => node.address === owners[1]);
    if (replica === undefined) throw new Error(`no node at ${owners[1]}`);
    return replica;
  };

  const post = (signed: { query: string; body: string }) =>
    fetchText(`${server.url}/wechat?${signed.query}`, { method: 'POST', body: signed.body, headers: { 'content-type': 'text/xml' } });

  const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

  it('is answered 200 when a replica acknowledged the write', async () => {
    const ticket = await createTicket();
    const reply = await post(signPush(scanEvent(ticket, { openid: 'o_replicated' }), { token: TOKEN }));

    expect(reply.status).toBe(200);
    expect(readReply(reply.body).content).not.toBe('');
    expect((await engine.tickets.get(ticket.id))?.status).toBe('confirmed');
    await settle();
    expect(rings.filter((ring) => ring.ticket === ticket.id)).toEqual([{ ticket: ticket.id, version: 2 }]);
    expect(await unconfirmed()).toBe(0);
  });

  it('is answered 503 while no replica acknowledges, and the re-send afterwards logs in exactly once', async () => {
    const ticket = await createTicket();
    const replica = replicaOf(ticket);
    // WeChat re-sends the very same request: same query string, same body.
    const signed = signPush(scanEvent(ticket, { openid: 'o_unreplicated', createTime: 1718000901 }), { token: TOKEN });

    replica.pause();
    let first;
    let again;
    try {
      first = await post(signed);
      // The re-send finds the ticket moved by this scanner, but that state is still on the master alone.
      again = await post(signed);
    } finally {
      replica.resume();
    }

    expect(first.status).toBe(503);
    expect(again.status).toBe(503);
    await settle();
    // Nobody was told of a write a failover could still undo.
    expect(rings.filter((ring) => ring.ticket === ticket.id)).toEqual([]);
    expect(sink.text()).toMatch(/no replica acknowledged the write/);
    // Both refusals are counted, so operators see replicas falling behind.
    expect(await unconfirmed()).toBe(2);

    const resent = await post(signed);

    expect(resent.status).toBe(200);
    // One transition, one doorbell: the re-send found the ticket moved by this scanner and rang for it.
    expect(await engine.tickets.get(ticket.id)).toMatchObject({ status: 'confirmed', version: 2, openid: 'o_unreplicated' });
    await settle();
    expect(rings.filter((ring) => ring.ticket === ticket.id)).toEqual([{ ticket: ticket.id, version: 2 }]);
    expect(await unconfirmed()).toBe(2);
  });
});
