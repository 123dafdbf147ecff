/**
 * What only the Redis engine does: its key layout, its TTLs, sharded subscriptions shared per ticket, and how it
 * copes with bad messages, bad records and a server that is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { createRedisClients, createRedisEngine, type RedisClients, type RedisEngine, type TicketChange } from '../../libs/engine/index.js';
import { handleScanEvent } from '../../apps/webhook/scan-event.js';
import { createLoginService, LOGIN_COUNT_TTL_MS } from '../../libs/login/index.js';
import { createLogger, createMetrics } from '../../libs/observability/index.js';
import { loginCountKey, newLoginCode, retainUntil, transition } from '../../libs/ticket/index.js';
import { aTicket, eventually } from '../support/engine-contract.js';
import { APP_ID } from '../support/fixtures.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

describe('redis engine specifics', () => {
  let server: RedisServerHandle;
  let pairs: RedisClients[] = [];
  let raw: Redis;
  let received = 0;
  let engine: RedisEngine;
  let other: RedisEngine;
  const prefix = 'spec';

  beforeAll(async () => {
    server = await startRedisServer();
    pairs = [createRedisClients({ url: server.url }), createRedisClients({ url: server.url })];
    engine = createRedisEngine({
      client: pairs[0]!.client,
      subscriber: pairs[0]!.subscriber,
      keyPrefix: prefix,
      observer: { busMessageReceived: () => void received++ },
    });
    other = createRedisEngine({ client: pairs[1]!.client, subscriber: pairs[1]!.subscriber, keyPrefix: prefix });
    raw = new Redis(server.url);
  });
  afterAll(async () => {
    try {
      await Promise.all([engine?.close(), other?.close()]);
      await Promise.all(pairs.map((pair) => pair.quit()));
      raw?.disconnect();
    } finally {
      await server?.stop();
    }
  });

  const shardSubscribers = async (channel: string): Promise<number> => {
    const reply = (await raw.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  };

  /** TTLs are relative to the writer's clock; this test's process and Redis share one, give or take a second. */
  const expiresNear = async (key: string, at: number): Promise<boolean> =>
    Math.abs(Number(await raw.call('PEXPIRETIME', key)) - at) < 1_000;

  it('reports its kind', () => {
    expect(engine.kind).toBe('redis');
  });

  it("keeps a ticket under one hash-tagged key that expires at the ticket's retention", async () => {
    // Shorter than the login code's life, so confirming it must push the expiry out.
    const ticket = aTicket({ ttlSeconds: 10 });
    await engine.tickets.create(ticket);
    const key = `${prefix}:{${ticket.id}}:ticket`;
    expect(await raw.keys(`${prefix}:{${ticket.id}}*`)).toEqual([key]);
    expect(JSON.parse((await raw.get(key))!)).toEqual(ticket);
    expect(await expiresNear(key, retainUntil(ticket))).toBe(true);

    // A confirmed ticket lives as long as its login code: the write moves the expiry.
    const result = await engine.tickets.apply(ticket.id, (t) =>
      transition(t, { type: 'scan', openid: 'o', at: Date.now(), mode: 'scan', code: newLoginCode(ticket.id) }),
    );
    if (!result.ok) throw new Error(`scan refused: ${result.reason}`);
    expect(await expiresNear(key, retainUntil(result.ticket))).toBe(true);
    expect(retainUntil(result.ticket)).toBeGreaterThan(retainUntil(ticket));
  });

  it('puts kv values and rate-limit counters under the prefix, with their TTL', async () => {
    await engine.kv.set('token', 'v', 60_000);
    const ttl = await raw.pttl(`${prefix}:kv:token`);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await engine.kv.increment('hits');
    expect(await raw.pttl(`${prefix}:kv:hits`)).toBe(-1);

    await engine.createRateLimiter({ keyPrefix: 'tickets', points: 5, durationSeconds: 60 }).take('1.2.3.4');
    expect(await raw.exists(`${prefix}:rl:tickets:1.2.3.4`)).toBe(1);
  });

  it('keeps the two marks of a delivery in one slot, and a login counter with its sliding TTL', async () => {
    const key = 'wechat:dedupe:0123abcd';
    expect(await engine.kv.claimDelivery(key, 60_000)).toEqual({ kind: 'claimed' });
    expect(await raw.pttl(`${prefix}:kv:{${key}}:lease`)).toBeGreaterThan(50_000);
    await engine.kv.settleDelivery(key, '"answer"', 600_000);
    expect(await raw.get(`${prefix}:kv:{${key}}:done`)).toBe('"answer"');
    expect(await raw.exists(`${prefix}:kv:{${key}}:lease`)).toBe(0);
    // One hash tag for both, so the claim and settle scripts are single-slot (the Cluster contract suite runs them).

    await engine.kv.increment(loginCountKey('o_ttl'), LOGIN_COUNT_TTL_MS);
    expect(await raw.pttl(`${prefix}:kv:${loginCountKey('o_ttl')}`)).toBeGreaterThan(LOGIN_COUNT_TTL_MS - 60_000);
  });

  it('handles a scan push in six commands; the doorbell goes right behind the write, the ticket is small', async () => {
    const logger = createLogger({ app: 'test', level: 'silent' });
    const deps = {
      login: createLoginService({ engine, metrics: createMetrics(), logger }),
      kv: engine.kv,
      logger,
      confirmation: 'scan' as const,
      appId: APP_ID,
      now: Date.now,
    };
    const scanOf = (ticket: ReturnType<typeof aTicket>, openid: string) => ({
      FromUserName: openid,
      CreateTime: String(Math.floor(Date.now() / 1000)),
      MsgType: 'event',
      Event: 'SCAN',
      EventKey: ticket.id,
      Ticket: ticket.qr.wechatTicket,
    });
    // A first scan loads the scripts, so the one watched below runs as in a long-lived process.
    const warm = aTicket();
    await engine.tickets.create(warm);
    expect((await handleScanEvent(deps, scanOf(warm, 'o_warm'))).kind).toBe('ok');

    const ticket = aTicket();
    await engine.tickets.create(ticket);
    expect(await raw.strlen(`${prefix}:{${ticket.id}}:ticket`)).toBeLessThan(600);
    const monitor = await new Redis(server.url).monitor();
    const seen: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (!source.startsWith('lua')) seen.push(args);
    });
    // MONITOR starts on the server when it answers; a PING through it marks where this test's commands begin.
    await raw.ping('start');
    const result = await handleScanEvent(deps, scanOf(ticket, 'o_watched'));
    await raw.ping('end');
    await eventually(() => seen.some((args) => args[0]?.toLowerCase() === 'ping' && args[1] === 'end'));
    monitor.disconnect();

    expect(result.kind).toBe('ok');
    const start = seen.findIndex((args) => args[1] === 'start');
    const commands = seen.slice(start + 1, -1).map((args) => args[0]!.toLowerCase());
    // The ticket read goes out with the claim of the marks; the SPUBLISH follows the compare-and-set.
    expect([...commands.slice(0, 2)].sort()).toEqual(['evalsha', 'get']);
    expect(commands.slice(2)).toEqual(['eval', 'spublish', 'evalsha', 'evalsha']);
    expect(await raw.strlen(`${prefix}:{${ticket.id}}:ticket`)).toBeLessThan(800);
  });

  it('shares a rate limit between processes', async () => {
    const options = { keyPrefix: 'shared', points: 3, durationSeconds: 60 };
    const mine = engine.createRateLimiter(options);
    const theirs = other.createRateLimiter(options);
    expect(await mine.take('ip')).toEqual({ ok: true });
    expect(await theirs.take('ip')).toEqual({ ok: true });
    expect(await mine.take('ip')).toEqual({ ok: true });
    // The fourth point, taken in the other process, is refused: the window is shared.
    expect(await theirs.take('ip')).toMatchObject({ ok: false, retryAfterMs: expect.any(Number) });
  });

  it('holds one sharded subscription per ticket, however often it is asked, and drops it on unsubscribe', async () => {
    const ticket = aTicket().id;
    const channel = `${prefix}:{${ticket}}:changes`;
    expect(await shardSubscribers(channel)).toBe(0);
    await engine.events.subscribe(ticket);
    await engine.events.subscribe(ticket);
    expect(await shardSubscribers(channel)).toBe(1);
    // Sharded, not classic: a PUBLISH subscriber would be seen by every node of a cluster.
    expect(await raw.call('PUBSUB', 'NUMSUB', channel)).toEqual([channel, 0]);
    // The engine does not count: the gateway's hub subscribes on its first watcher and unsubscribes on its last.
    await engine.events.unsubscribe(ticket);
    expect(await shardSubscribers(channel)).toBe(0);
  });

  it('survives subscribing and unsubscribing in quick succession', async () => {
    const ticket = aTicket().id;
    const channel = `${prefix}:{${ticket}}:changes`;
    for (let i = 0; i < 5; i++) {
      await engine.events.subscribe(ticket);
      void engine.events.unsubscribe(ticket);
    }
    const got: TicketChange[] = [];
    const stop = engine.events.onRing((change) => change.ticket === ticket && got.push(change));
    await engine.events.subscribe(ticket);
    expect(await shardSubscribers(channel)).toBe(1);
    await other.events.publish({ ticket, version: 2 });
    await eventually(() => got.length === 1);
    stop();
    await engine.events.unsubscribe(ticket);
    expect(await shardSubscribers(channel)).toBe(0);
  });

  it('ignores malformed bus messages but counts them as received; a status it does not know still rings', async () => {
    const ticket = aTicket().id;
    const channel = `${prefix}:{${ticket}}:changes`;
    const got: TicketChange[] = [];
    const stop = engine.events.onRing((change) => got.push(change));
    await engine.events.subscribe(ticket);
    const start = received;
    for (const message of [
      'not json',
      'null',
      // From a newer writer with a state this code does not know: the doorbell rings; the store says the rest.
      JSON.stringify({ ticket, status: 'flying', version: 2 }),
      JSON.stringify({ ticket, status: 'scanned', version: '2' }),
      JSON.stringify({ ticket: 'someone-else', status: 'scanned', version: 2 }),
      JSON.stringify({ ticket, status: 'confirmed', version: 3 }),
      JSON.stringify({ ticket, version: 4 }),
    ]) {
      await raw.spublish(channel, message);
    }
    await eventually(() => received - start === 7);
    expect(got).toEqual([
      { ticket, version: 2 },
      { ticket, version: 3 },
      { ticket, version: 4 },
    ]);
    stop();
    await engine.events.unsubscribe(ticket);
  });

  it("does not count messages of another channel its subscriber carries (the /session adapter's) as bus messages", async () => {
    const ticket = aTicket().id;
    const stop = engine.events.onRing(() => {});
    await engine.events.subscribe(ticket);
    const foreign = 'qrgate-socket.io#/session#';
    await pairs[0]!.subscriber.ssubscribe(foreign);
    const heard: string[] = [];
    const listen = (channel: string): void => void heard.push(channel);
    pairs[0]!.subscriber.on('smessage', listen);
    const start = received;
    await raw.spublish(foreign, 'adapter traffic');
    await raw.spublish(`${prefix}:{${ticket}}:changes`, JSON.stringify({ ticket, version: 2 }));
    await eventually(() => heard.length === 2);
    expect(received - start).toBe(1);
    pairs[0]!.subscriber.off('smessage', listen);
    await pairs[0]!.subscriber.sunsubscribe(foreign);
    stop();
    await engine.events.unsubscribe(ticket);
  });

  it('fails loudly on a stored ticket that is not a ticket', async () => {
    const ticket = aTicket();
    await raw.set(`${prefix}:{${ticket.id}}:ticket`, JSON.stringify({ id: 'someone-else' }), 'PX', 60_000);
    await expect(engine.tickets.get(ticket.id)).rejects.toThrow(/malformed/);
  });

  it('closes its subscriptions but leaves the injected connections open', async () => {
    const pair = createRedisClients({ url: server.url });
    try {
      const closing = createRedisEngine({ client: pair.client, subscriber: pair.subscriber, keyPrefix: prefix });
      const ticket = aTicket().id;
      await closing.events.subscribe(ticket);
      expect(await shardSubscribers(`${prefix}:{${ticket}}:changes`)).toBe(1);
      await closing.close();
      expect(await shardSubscribers(`${prefix}:{${ticket}}:changes`)).toBe(0);
      expect(await pair.client.ping()).toBe('PONG');
      await expect(closing.events.subscribe(ticket)).rejects.toThrow(/closed/);
    } finally {
      await pair.quit();
    }
  });

  it('rejects ping, naming the last connection error, when the server is gone', async () => {
    const doomed = await startRedisServer();
    const client = new Redis(doomed.url, { maxRetriesPerRequest: 1 });
    const subscriber = new Redis(doomed.url, { maxRetriesPerRequest: 1 });
    try {
      const lonely = createRedisEngine({ client, subscriber, pingTimeoutMs: 500 });
      await lonely.ping();
      await doomed.stop();
      await eventually(() => lonely.lastError !== null);
      await expect(lonely.ping()).rejects.toThrow(/redis ping failed.*last connection error/);
      await lonely.close();
    } finally {
      client.disconnect();
      subscriber.disconnect();
      await doomed.stop();
    }
  });

  it('auto-pipelines the command connection only when asked, and never the subscriber', async () => {
    const piped = createRedisClients({ url: server.url, autoPipelining: true });
    const plain = createRedisClients({ url: server.url });
    try {
      await Promise.all([piped.client.ping(), plain.client.ping(), piped.subscriber.ping()]);
      // Three reads issued in one tick wait in one batch, written together on the next tick.
      const reads = [1, 2, 3].map((n) => (piped.client as Redis).get(`${prefix}:piped:${n}`));
      expect((piped.client as Redis).autoPipelineQueueSize).toBe(3);
      expect(await Promise.all(reads)).toEqual([null, null, null]);
      const unpiped = [1, 2].map((n) => (plain.client as Redis).get(`${prefix}:plain:${n}`));
      const subscriberPing = (piped.subscriber as Redis).ping();
      expect((plain.client as Redis).autoPipelineQueueSize).toBe(0);
      expect((piped.subscriber as Redis).autoPipelineQueueSize).toBe(0);
      await Promise.all([...unpiped, subscriberPing]);
    } finally {
      await Promise.all([piped.quit(), plain.quit()]);
    }
  });

  it("keeps a ticket for its TTL even when the writer's clock runs an hour behind Redis's", async () => {
    const behind = (): number => Date.now() - 3_600_000;
    const pair = createRedisClients({ url: server.url });
    try {
      const skewed = createRedisEngine({ client: pair.client, subscriber: pair.subscriber, keyPrefix: prefix, now: behind });
      const ticket = aTicket({ ttlSeconds: 10, now: behind() });
      await skewed.tickets.create(ticket);
      const ttl = Number(await raw.pttl(`${prefix}:{${ticket.id}}:ticket`));
      // What is left of its retention by the writer's own clock, not an hour less (which would be gone).
      expect(Math.abs(ttl - (retainUntil(ticket) - behind()))).toBeLessThan(1_000);
      expect((await skewed.tickets.get(ticket.id))?.status).toBe('pending');
      await skewed.close();
    } finally {
      await pair.quit();
    }
  });

  it('asks its watchers to re-read the store after the bus connection comes back', async () => {
    const pair = createRedisClients({ url: server.url });
    try {
      const watched = createRedisEngine({ client: pair.client, subscriber: pair.subscriber, keyPrefix: prefix });
      await watched.ping();
      let resyncs = 0;
      const stop = watched.events.onResync(() => void resyncs++);
      await watched.events.subscribe('resync-ticket');
      // Kill only the pub/sub connections: whatever is published until ioredis reconnects is lost for good.
      await raw.client('KILL', 'TYPE', 'pubsub');
      await eventually(() => resyncs > 0);
      expect(await shardSubscribers(`${prefix}:{resync-ticket}:changes`)).toBeGreaterThan(0);
      stop();
      await watched.close();
    } finally {
      await pair.quit();
    }
  });

  it('is not ready while its bus connection is down', async () => {
    const pair = createRedisClients({ url: server.url });
    try {
      const deaf = createRedisEngine({ client: pair.client, subscriber: pair.subscriber, keyPrefix: prefix });
      await deaf.ping();
      pair.subscriber.disconnect();
      await eventually(() => (pair.subscriber as Redis).status === 'end');
      await expect(deaf.ping()).rejects.toThrow(/subscriber connection is/);
      await deaf.close();
    } finally {
      await pair.quit();
    }
  });

  it('refuses a Cluster subscriber without sharded subscribers', () => {
    const node = { host: '127.0.0.1', port: server.port };
    const client = new Cluster([node], { lazyConnect: true });
    const subscriber = new Cluster([node], { lazyConnect: true });
    expect(() => createRedisEngine({ client, subscriber })).toThrow(/shardedSubscribers/);
  });
});
