/**
 * The Redis engine: tickets and their change bus in Redis (standalone or Cluster), for more than one process.
 *
 * Layout (the hash tag puts all of a ticket's keys in one cluster slot):
 * - `<prefix>:{<id>}:ticket`  the ticket as JSON, expiring at `retainUntil(ticket)` (a relative PX);
 * - `<prefix>:{<id>}:changes` the ticket's sharded pub/sub channel (SPUBLISH / SSUBSCRIBE);
 * - `<prefix>:kv:<key>`       small shared values; `<prefix>:rl:<limiter>:<key>` rate-limit counters;
 *   the kv's sets are Redis sets there, its expiring sets sorted sets scored by each member's end;
 * - `<prefix>:kv:{<key>}:done` / `:lease` the two marks of one delivery, hash-tagged into one slot so that
 *   claiming and settling a delivery are each one script;
 * - `<prefix>:lease:<key>`      a sorted set of holders scored by lease end; `<prefix>:budget:<key>` a bucket.
 *
 * A scan is three round trips: the webhook's replay mark, the claim of its delivery marks and a read of the
 * ticket, sent together; the compare-and-set script with the doorbell's SPUBLISH written right behind it on
 * the same connection (the channel shares the ticket's slot, so Cluster sends both to one node, in order) and
 * the login counter (INCRBY with its TTL) alongside; the settle of the marks. A durable write on a Cluster
 * master with a replica carries `WAIT 1` behind it on the same connection and rings (and counts) only once a
 * replica has it (`replica-ack.ts`), one round trip more.
 *
 * Sharded pub/sub is what keeps a scan's cost flat as gateways are added: a message goes only to the
 * connections subscribed to that channel, on the one shard that owns its slot, instead of to every node and
 * every subscriber as classic PUBLISH does in a cluster.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { rateLimiterOver, type RateLimiter } from './rate-limiter.js';
import { retainUntil, type Ticket, type TransitionResult } from '../ticket/index.js';
import type {
  ApplyOptions,
  ApplyResult,
  AttemptLimit,
  BudgetOptions,
  Budgets,
  BudgetVerdict,
  DeliveryClaim,
  Engine,
  EngineObserver,
  KeyValueStore,
  LeaseSet,
  RateLimitOptions,
  TicketChange,
  TicketChangeListener,
  TicketEventBus,
  TicketStore,
} from './engine.js';
import { REPLICA_ACK_TIMEOUT_MS, replicatedMasterOf, waitForReplica } from './replica-ack.js';
import { decodeTicketChange, deliverChange, encodeTicketChange } from './ticket-change.js';
import { checkedNow, lifeUntil, ttlMilliseconds } from './ttl.js';

/** A connection the engine accepts: one Redis server or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/** Options of {@link createRedisEngine}. */
export interface RedisEngineOptions {
  /** Connection for commands. Owned by the caller: `close()` leaves it open. */
  client: RedisConnection;
  /**
   * A second connection, used only for SSUBSCRIBE (a subscribed connection can run no other command). Owned by
   * the caller. A Cluster must be created with `shardedSubscribers: true` (see `createRedisClients`).
   */
  subscriber: RedisConnection;
  /** Told about every message received from the bus. Default: none. */
  observer?: EngineObserver;
  /** First segment of every key and channel. Default: `'qrgate'`. */
  keyPrefix?: string;
  /** How long `ping()` waits for PONG before it rejects, milliseconds. Default: 2 000. */
  pingTimeoutMs?: number;
  /** Clock, epoch ms, that tickets' times come from. Default `Date.now`. */
  now?: () => number;
  /**
   * How long a durable write (`apply(…, { durable: true })`) waits for a Cluster replica's acknowledgement
   * before it fails, ms. Default {@link REPLICA_ACK_TIMEOUT_MS}.
   */
  replicaAckTimeoutMs?: number;
}

/** A Redis-backed engine, with what it knows about its connections' health. */
export interface RedisEngine extends Engine {
  readonly kind: 'redis' | 'redis-cluster';
  /** The last error either connection emitted, or null; kept for `ping()` failures and diagnostics. */
  readonly lastError: Error | null;
}

/** Conflicting writers retry `apply` at most this often; far above what real contention on one ticket needs. */
const MAX_APPLY_ATTEMPTS = 20;

/** A Lua script and its SHA-1, run by `EVALSHA` (each node caches scripts on its own). */
interface Script {
  source: string;
  sha: string;
}
const script = (source: string): Script => ({ source, sha: createHash('sha1').update(source).digest('hex') });

/**
 * Write the new ticket only if the stored one still has the version the transition read; one key, so it is
 * cluster-safe. Returns 1 when written, 0 on a version conflict, -1 when the ticket is gone.
 */
const COMPARE_AND_SET = script(`
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
if tonumber(cjson.decode(current).version) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`);

/**
 * Re-set the ticket's TTL to what is left of it: a write that changes nothing but enters the replication
 * stream, so that a WAIT after it covers the ticket as stored. Returns 1, or 0 when the ticket is gone.
 */
const TOUCH = script(`
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`);

/** A delivery's state: {1, answer} when done, {2} when this call took the lease (ARGV[1] ms), {3} when busy. */
const CLAIM_DELIVERY = script(`
local done = redis.call('GET', KEYS[1])
if done then return {1, done} end
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[1], 'NX') then return {2} end
return {3}
`);

/** Record a delivery's answer (ARGV[1], for ARGV[2] ms) and drop its lease. */
const SETTLE_DELIVERY = script(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
`);

/** INCRBY ARGV[2] with a sliding TTL (ARGV[1] ms), in one step so that no counter is ever left without one. */
const INCREMENT_WITH_TTL = script(`
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return count
`);

/**
 * Hold or renew a lease: drop lapsed holders, then add (or re-score) ARGV[2] unless the set is full; when
 * ARGV[5] (a holder it replaces, or '') holds a place, that place becomes ARGV[2]'s whatever the count. One key.
 * ARGV: now (ms), holder, limit, ttl (ms), replaced holder. Returns 1 when held, 0 when full.
 */
const ACQUIRE_LEASE = script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local replacing = ARGV[5] ~= '' and ARGV[5] ~= ARGV[2] and redis.call('ZSCORE', KEYS[1], ARGV[5])
local held = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not replacing and not held and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
if replacing then redis.call('ZREM', KEYS[1], ARGV[5]) end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[4]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`);

/**
 * Renew a lease only if it is still held: drop lapsed holders, then re-score ARGV[2] if present. One key.
 * ARGV: now (ms), holder, ttl (ms). Returns 1 when renewed, 0 when the holder has no place.
 */
const RENEW_LEASE = script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', tonumber(ARGV[1]) + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);

/**
 * Expiring sets: a sorted set scored by each member's end (epoch ms of the caller's clock). Each script first
 * drops the members lapsed by ARGV[1] (now), and leaves the key to live until its latest member's end. One key.
 */
const EXPIRING_PRELUDE = `
local function prune() redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) end
local function lastEnd()
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
  if last then redis.call('PEXPIRE', KEYS[1], string.format('%d', math.ceil(tonumber(last) - tonumber(ARGV[1])))) end
end
`;

/** ARGV: now, until, member. A member already there keeps the later end (GT). */
const ADD_EXPIRING = script(`${EXPIRING_PRELUDE}
prune()
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[3])
lastEnd()
return 1
`);

/** ARGV: now. The live members, earliest end first (pruning drops only the earliest: the TTL stands). */
const EXPIRING_MEMBERS = script(`${EXPIRING_PRELUDE}
prune()
return redis.call('ZRANGE', KEYS[1], 0, -1)
`);

/** ARGV: now, then the members to take out. An emptied key is gone (Redis deletes empty sorted sets). */
const REMOVE_EXPIRING = script(`${EXPIRING_PRELUDE}
prune()
for i = 2, #ARGV do redis.call('ZREM', KEYS[1], ARGV[i]) end
lastEnd()
return 1
`);

/**
 * Draw from a token bucket (a hash: tokens, at). ARGV: capacity, refill per ms, now (ms), tokens wanted (0 to
 * peek). With a second key, first count one attempt there (a fixed window: ARGV[5] points per ARGV[6] ms) and
 * draw nothing when it is over. Returns { taken (1/0), tokens left as a string, limited (1/0) } (Lua numbers
 * become integers on the way out).
 */
const DRAW_BUDGET = script(`
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local limited = 0
if KEYS[2] then
  local attempts = redis.call('INCR', KEYS[2])
  if attempts == 1 or redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
  if attempts > tonumber(ARGV[5]) then
    limited = 1
    want = 0
  end
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then tokens = capacity; at = now end
if now > at then tokens = math.min(capacity, tokens + (now - at) * rate); at = now end
local taken = 0
if want > 0 and tokens >= want then
  tokens = tokens - want
  taken = 1
end
if want > 0 then
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%d', at))
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 60000)
end
return { taken, string.format('%.6f', tokens), limited }
`);

/**
 * An engine over injected connections. `close()` drops this engine's subscriptions and listeners but does not
 * quit the connections: the composition root opened them and closes them (after the engine).
 */
export function createRedisEngine(options: RedisEngineOptions): RedisEngine {
  const { client, subscriber, observer } = options;
  const prefix = options.keyPrefix ?? 'qrgate';
  const pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  const now = options.now ?? Date.now;
  const replicaAckTimeoutMs = options.replicaAckTimeoutMs ?? REPLICA_ACK_TIMEOUT_MS;
  if (subscriber.isCluster && !(subscriber as Cluster).options.shardedSubscribers) {
    // Without it ioredis sends SSUBSCRIBE to one arbitrary node, which answers MOVED for most channels.
    throw new Error('the subscriber Cluster needs the ioredis option shardedSubscribers: true');
  }
  if (client === subscriber) throw new Error('client and subscriber must be two connections');

  const ticketKey = (id: string): string => `${prefix}:{${id}}:ticket`;
  const channelOf = (id: string): string => `${prefix}:{${id}}:changes`;
  const channelPattern = new RegExp(`^${escapeRegExp(prefix)}:\\{(.*)\\}:changes$`);

  let lastError: Error | null = null;
  // Kept even when the caller listens too: an `error` event without a listener would crash the process, and
  // the last error explains a failing `ping()`.
  const onError = (error: Error): void => {
    lastError = error;
  };
  client.on('error', onError);
  subscriber.on('error', onError);

  /** Tickets this process wants to hear; the hub above decides (it counts its own watchers). */
  const wanted = new Set<string>();
  const ringListeners = new Set<TicketChangeListener>();
  /** Channels this engine has SSUBSCRIBEd (per ticket id). */
  const subscribed = new Set<string>();
  /** Per-ticket queue of subscription changes, so SSUBSCRIBE and SUNSUBSCRIBE never race. */
  const queues = new Map<string, Promise<void>>();
  let closed = false;

  const onMessage = (channel: string, message: string): void => {
    const id = channelPattern.exec(channel)?.[1];
    // Only the doorbell's channels count: the subscriber may carry others (the `/session` adapter's).
    if (id !== undefined) observer?.busMessageReceived?.();
    const change = decodeTicketChange(message);
    // Another writer's garbage (or a channel of another prefix) must not reach the listeners nor crash us.
    if (id === undefined || change === null || change.ticket !== id) return;
    deliverChange(ringListeners, change);
  };
  subscriber.on('smessage', onMessage);

  // After a reconnect ioredis subscribes again, but what was published meanwhile is gone for good: tell the
  // watchers to re-read the store. (A Cluster's sharded subscribers announce it with `subscribersReady`.)
  const resyncListeners = new Set<() => void>();
  const resync = (): void => {
    for (const listener of resyncListeners) listener();
  };
  const readyEvent = subscriber.isCluster ? 'subscribersReady' : 'ready';
  subscriber.on(readyEvent, resync);

  /** Bring the ticket's Redis subscription in line with whether this process wants it. */
  const reconcile = (id: string): Promise<void> => {
    const run = async (): Promise<void> => {
      const want = wanted.has(id) && !closed;
      if (want && !subscribed.has(id)) {
        await subscriber.ssubscribe(channelOf(id));
        subscribed.add(id);
      } else if (!want && subscribed.has(id)) {
        // Forget it first: if SUNSUBSCRIBE fails, the worst case is a stray subscription, never a missed one.
        subscribed.delete(id);
        await subscriber.sunsubscribe(channelOf(id));
      }
    };
    const next = (queues.get(id) ?? Promise.resolve()).then(run);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    queues.set(id, settled);
    void settled.then(() => {
      if (queues.get(id) === settled) queues.delete(id);
    });
    return next;
  };

  /**
   * A relative TTL from this process's clock, the clock the ticket's times come from. An absolute PXAT would be
   * read against Redis's clock: a writer running behind it could store a confirmation that vanishes at once.
   */
  const ttlOf = (ticket: Ticket): number => Math.max(1, Math.ceil(retainUntil(ticket) - now()));

  /** Resolves once the (non-Cluster) subscriber connection is usable, waiting up to the ping timeout. */
  const subscriberReady = async (): Promise<void> => {
    if (subscriber.isCluster) return;
    const connection = subscriber as Redis;
    const deadline = Date.now() + pingTimeoutMs;
    while (connection.status !== 'ready') {
      if (connection.status === 'end' || Date.now() >= deadline) {
        throw new Error(`the subscriber connection is ${connection.status}`);
      }
      await sleep(25);
    }
  };

  const readTicket = async (id: string): Promise<Ticket | null> => {
    const json = await client.get(ticketKey(id));
    return json === null ? null : parseTicket(id, json);
  };

  const run = async (lua: Script, keys: string[], args: string[]): Promise<unknown> => {
    try {
      return await client.evalsha(lua.sha, keys.length, ...keys, ...args);
    } catch (error) {
      // Each node caches scripts on its own (and forgets them on restart): load it by running it once in full.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(lua.source, keys.length, ...keys, ...args);
    }
  };

  /**
   * The compare-and-set, with `sent` called as soon as it is on the wire, so that what `sent` sends follows
   * it in the same round trip. Always the full `EVAL` (a few hundred bytes, compiled once per node): an
   * `EVALSHA` that met NOSCRIPT would write only after what `sent` sent, and every scan of a burst reaching a
   * fresh node would ring twice.
   */
  const compareAndSet = async (version: number, ticket: Ticket, sent: () => void): Promise<number> => {
    const written = client.eval(
      COMPARE_AND_SET.source,
      1,
      ticketKey(ticket.id),
      String(version),
      JSON.stringify(ticket),
      String(ttlOf(ticket)),
    );
    sent();
    return Number(await written);
  };

  /**
   * The compare-and-set of a durable write: on a Cluster master with a replica, sent on that master's own
   * connection with `WAIT` right behind it (one round trip), and `acknowledged` called only once a replica
   * has the write, so that nobody hears of a change a failover could still undo. Elsewhere the plain one.
   */
  const durableCompareAndSet = async (version: number, ticket: Ticket, acknowledged: () => void): Promise<number> => {
    const key = ticketKey(ticket.id);
    const master = replicatedMasterOf(client, key);
    if (master === null) return compareAndSet(version, ticket, acknowledged);
    const written = master.eval(COMPARE_AND_SET.source, 1, key, String(version), JSON.stringify(ticket), String(ttlOf(ticket)));
    const replicated = waitForReplica(master, key, replicaAckTimeoutMs);
    replicated.catch(() => undefined);
    const result = Number(await written);
    if (result === 1) {
      await replicated;
      acknowledged();
    }
    return result;
  };

  /** A durable transition that changed nothing: the ticket as stored must have reached a replica too. */
  const confirmStored = async (id: string): Promise<void> => {
    const key = ticketKey(id);
    const master = replicatedMasterOf(client, key);
    if (master === null) return;
    const touched = master.eval(TOUCH.source, 1, key);
    const replicated = waitForReplica(master, key, replicaAckTimeoutMs);
    replicated.catch(() => undefined);
    await touched;
    await replicated;
  };

  const tickets: TicketStore = {
    async create(ticket: Ticket): Promise<void> {
      const reply = await client.set(ticketKey(ticket.id), JSON.stringify(ticket), 'PX', ttlOf(ticket), 'NX');
      if (reply !== 'OK') throw new Error(`ticket ${ticket.id} already exists`);
    },
    get: readTicket,
    async apply(id: string, transition: (ticket: Ticket) => TransitionResult, options: ApplyOptions = {}): Promise<ApplyResult> {
      for (let attempt = 1; attempt <= MAX_APPLY_ATTEMPTS; attempt++) {
        const current = attempt === 1 && options.current !== undefined ? await options.current : await readTicket(id);
        if (current !== null && current.id !== id) throw new Error(`ticket ${id}: the read passed to apply is of another ticket`);
        if (current === null) return { ok: false, reason: 'not_found' };
        const result = transition(current);
        if (result.ok && !result.changed && options.durable === true) await confirmStored(id);
        if (!result.ok || !result.changed) return result;
        const changed = result.ticket;
        const write = options.durable === true ? durableCompareAndSet : compareAndSet;
        const written = await write(current.version, changed, () => options.onWrite?.(changed));
        if (written === 1) return result;
        if (written === -1) return { ok: false, reason: 'not_found' };
        // Someone wrote in between: back off a little, at random, so the losers do not collide again.
        await sleep(Math.random() * Math.min(2 * attempt, 20));
      }
      throw new Error(`ticket ${id}: gave up after ${MAX_APPLY_ATTEMPTS} conflicting writes`);
    },
  };

  const events: TicketEventBus = {
    async publish(change: TicketChange): Promise<void> {
      await client.spublish(channelOf(change.ticket), encodeTicketChange(change));
    },
    async subscribe(ticket: string): Promise<void> {
      if (closed) throw new Error('engine is closed');
      wanted.add(ticket);
      try {
        await reconcile(ticket);
      } catch (error) {
        // Not subscribed after all: do not leave a wish behind that a later reconcile would act on.
        wanted.delete(ticket);
        await reconcile(ticket).catch(() => undefined);
        throw error;
      }
    },
    async unsubscribe(ticket: string): Promise<void> {
      wanted.delete(ticket);
      await reconcile(ticket);
    },
    onRing(listener: TicketChangeListener): () => void {
      ringListeners.add(listener);
      return () => ringListeners.delete(listener);
    },
    onResync(listener: () => void): () => void {
      resyncListeners.add(listener);
      return () => resyncListeners.delete(listener);
    },
  };

  const kvKey = (key: string): string => `${prefix}:kv:${key}`;
  const doneKey = (key: string): string => `${prefix}:kv:{${key}}:done`;
  const leaseKey = (key: string): string => `${prefix}:kv:{${key}}:lease`;
  const kv: KeyValueStore = {
    async get(key: string): Promise<string | null> {
      return client.get(kvKey(key));
    },
    async set(key: string, value: string, ttlMs: number): Promise<void> {
      await client.set(kvKey(key), value, 'PX', ttlMilliseconds(ttlMs));
    },
    async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
      return (await client.set(kvKey(key), value, 'PX', ttlMilliseconds(ttlMs), 'NX')) === 'OK';
    },
    async setIfAbsentOrGet(key: string, value: string, ttlMs: number): Promise<string | null> {
      // SET … NX GET (Redis 7, which sharded pub/sub needs anyway): nil when it set the value, else the old one.
      return client.set(kvKey(key), value, 'PX', ttlMilliseconds(ttlMs), 'NX', 'GET');
    },
    async delete(key: string): Promise<void> {
      await client.del(kvKey(key));
    },
    async increment(key: string, ttlMs?: number, by = 1): Promise<number> {
      if (!Number.isSafeInteger(by)) throw new Error(`increment ${key}: by must be an integer, got ${by}`);
      if (ttlMs === undefined) return client.incrby(kvKey(key), by);
      return Number(await run(INCREMENT_WITH_TTL, [kvKey(key)], [String(ttlMilliseconds(ttlMs)), String(by)]));
    },
    async claimDelivery(key: string, leaseMs: number): Promise<DeliveryClaim> {
      const reply = (await run(CLAIM_DELIVERY, [doneKey(key), leaseKey(key)], [String(ttlMilliseconds(leaseMs))])) as [number, string?];
      if (reply[0] === 1) return { kind: 'done', answer: String(reply[1]) };
      return reply[0] === 2 ? { kind: 'claimed' } : { kind: 'busy' };
    },
    async settleDelivery(key: string, answer: string, ttlMs: number): Promise<void> {
      await run(SETTLE_DELIVERY, [doneKey(key), leaseKey(key)], [answer, String(ttlMilliseconds(ttlMs))]);
    },
    async releaseDelivery(key: string): Promise<void> {
      await client.del(leaseKey(key));
    },
    async addToSet(key: string, member: string, ttlMs: number): Promise<void> {
      const ms = ttlMilliseconds(ttlMs);
      // One key, one transaction: NX gives a new set its TTL, GT only ever lengthens an existing one (Redis 7).
      const results = await client.multi().sadd(kvKey(key), member).pexpire(kvKey(key), ms, 'NX').pexpire(kvKey(key), ms, 'GT').exec();
      const failed = results?.find(([err]) => err !== null)?.[0];
      if (results === null || failed) throw failed ?? new Error(`addToSet ${key}: transaction aborted`);
    },
    async setMembers(key: string): Promise<string[]> {
      return client.smembers(kvKey(key));
    },
    async addExpiring(key: string, member: string, until: number, at: number): Promise<void> {
      lifeUntil(until, at);
      await run(ADD_EXPIRING, [kvKey(key)], [String(at), String(until), member]);
    },
    async expiringMembers(key: string, at: number): Promise<string[]> {
      return (await run(EXPIRING_MEMBERS, [kvKey(key)], [String(checkedNow(at))])) as string[];
    },
    async removeExpiring(key: string, members: readonly string[], at: number): Promise<void> {
      checkedNow(at);
      if (members.length > 0) await run(REMOVE_EXPIRING, [kvKey(key)], [String(at), ...members]);
    },
  };

  const leaseSetKey = (key: string): string => `${prefix}:lease:${key}`;
  const acquireLease = async (key: string, holder: string, limit: number, ttlMs: number, previous: string): Promise<boolean> => {
    const ttl = String(ttlMilliseconds(ttlMs));
    const held = await run(ACQUIRE_LEASE, [leaseSetKey(key)], [String(now()), holder, String(limit), ttl, previous]);
    return Number(held) === 1;
  };
  const leases: LeaseSet = {
    acquire: (key, holder, limit, ttlMs) => acquireLease(key, holder, limit, ttlMs, ''),
    replace: (key, previous, holder, limit, ttlMs) => acquireLease(key, holder, limit, ttlMs, previous),
    async renew(key, holder, ttlMs) {
      const renewed = await run(RENEW_LEASE, [leaseSetKey(key)], [String(now()), holder, String(ttlMilliseconds(ttlMs))]);
      return Number(renewed) === 1;
    },
    async release(key, holder) {
      await client.zrem(leaseSetKey(key), holder);
    },
  };

  const draw = async (key: string, options: BudgetOptions, want: number, attempt?: AttemptLimit): Promise<BudgetVerdict> => {
    if (key.includes('{')) throw new Error(`budget key ${JSON.stringify(key)} must not contain '{'`);
    const bucket = `${prefix}:budget:${key}`;
    const args = [String(options.capacity), String(options.refillPerSecond / 1000), String(now()), String(want)];
    // The attempt counters carry the bucket's whole key as their hash tag: Cluster keeps them in its slot.
    const keys = attempt === undefined ? [bucket] : [bucket, `{${bucket}}:attempts:${attempt.key}`];
    if (attempt !== undefined) args.push(String(attempt.points), String(ttlMilliseconds(attempt.windowMs)));
    const reply = (await run(DRAW_BUDGET, keys, args)) as [number, string, number];
    const verdict: BudgetVerdict = { ok: Number(reply[0]) === 1, remaining: Math.floor(Number(reply[1])) };
    if (Number(reply[2]) === 1) verdict.limited = true;
    return verdict;
  };
  const budgets: Budgets = {
    take: (key, options, attempt) => draw(key, options, 1, attempt),
    peek: async (key, options) => (await draw(key, options, 0)).remaining,
  };

  return {
    kind: client.isCluster ? 'redis-cluster' : 'redis',
    tickets,
    events,
    kv,
    leases,
    budgets,
    get lastError() {
      return lastError;
    },
    createRateLimiter(limit: RateLimitOptions): RateLimiter {
      // One key per consumed point set, so the limiter's script is cluster-safe; ioredis needs no extra flag.
      return rateLimiterOver(
        new RateLimiterRedis({
          storeClient: client,
          keyPrefix: `${prefix}:rl:${limit.keyPrefix}`,
          points: limit.points,
          duration: limit.durationSeconds,
        }),
      );
    },
    async ping(): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no PONG within ${pingTimeoutMs} ms`)), pingTimeoutMs);
      });
      try {
        // A gateway whose bus connection is down would never hear a scan: not ready either.
        await Promise.race([Promise.all([client.ping(), subscriberReady()]), timeout]);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const last = lastError === null ? '' : ` (last connection error: ${lastError.message})`;
        throw new Error(`redis ping failed: ${reason}${last}`, { cause: error });
      } finally {
        clearTimeout(timer);
      }
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      const ids = new Set([...wanted, ...subscribed]);
      wanted.clear();
      ringListeners.clear();
      await Promise.allSettled([...ids].map(reconcile));
      subscriber.off('smessage', onMessage);
      subscriber.off(readyEvent, resync);
      resyncListeners.clear();
      client.off('error', onError);
      subscriber.off('error', onError);
    },
  };
}

/** A stored ticket. The record is ours, but a wrong shape must fail loudly rather than corrupt a transition. */
function parseTicket(id: string, json: string): Ticket {
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null) throw new Error(`ticket ${id}: stored record is not an object`);
  const record = value as Partial<Ticket>;
  if (record.id !== id || typeof record.version !== 'number' || typeof record.status !== 'string') {
    throw new Error(`ticket ${id}: stored record is malformed`);
  }
  return value as Ticket;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
