/**
 * The memory engine: everything in this process. The default when no Redis is configured; correct for one
 * process only, since nothing here is shared with another.
 */
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { rateLimiterOver, type RateLimiter } from './rate-limiter.js';
import { retainUntil, type Ticket, type TransitionResult } from '../ticket/index.js';
import type {
  ApplyOptions,
  ApplyResult,
  AttemptLimit,
  BudgetOptions,
  Budgets,
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
import { deliverChange } from './ticket-change.js';
import { checkedNow, lifeUntil, ttlMilliseconds } from './ttl.js';

/** Options of {@link createMemoryEngine}. */
export interface MemoryEngineOptions {
  /** Told about every bus message this engine delivers. Default: none. */
  observer?: EngineObserver;
  /** The clock, epoch milliseconds. Default: `Date.now`. */
  now?: () => number;
  /** How often expired tickets and values are swept away, milliseconds. Default: 30 000. */
  sweepIntervalMs?: number;
}

interface Expiring<T> {
  value: T;
  /** Epoch ms at which the record is gone; `Infinity` for never. */
  until: number;
}

/**
 * An engine for a single process. Tickets are copied in and out (as Redis would serialise them), so no caller
 * can change a stored ticket behind `apply`'s back. Records expire lazily on read and by a periodic sweep whose
 * timer never keeps the process alive.
 */
export function createMemoryEngine(options: MemoryEngineOptions = {}): Engine {
  const now = options.now ?? Date.now;
  const observer = options.observer;
  const tickets = new Map<string, Expiring<Ticket>>();
  const values = new Map<string, Expiring<string>>();
  /** Tickets this process is subscribed to, and who hears their doorbells. */
  const subscribed = new Set<string>();
  const ringListeners = new Set<TicketChangeListener>();
  const sets = new Map<string, Expiring<Set<string>>>();
  /** Expiring sets: each member's end (epoch ms of the caller's clock); the key's `until` is on this engine's. */
  const expiring = new Map<string, Expiring<Map<string, number>>>();
  /** Per key, each holder's lease end (epoch ms); lapsed holders go when the key is touched or swept. */
  const leaseHolders = new Map<string, Map<string, number>>();
  /** Attempts counted under each budget's `AttemptLimit` keys, in their current window. */
  const attempts = new Map<string, Expiring<number>>();

  const live = <T>(map: Map<string, Expiring<T>>, key: string): Expiring<T> | undefined => {
    const record = map.get(key);
    if (record === undefined) return undefined;
    // Same rule as Redis' PXAT: the record is gone from the instant `until` is reached.
    if (now() >= record.until) {
      map.delete(key);
      return undefined;
    }
    return record;
  };
  const sweep = (): void => {
    const at = now();
    for (const map of [tickets, values, sets, expiring, attempts] as Map<string, Expiring<unknown>>[]) {
      for (const [key, record] of map) if (at >= record.until) map.delete(key);
    }
    for (const [key, holders] of leaseHolders) {
      for (const [holder, until] of holders) if (at >= until) holders.delete(holder);
      if (holders.size === 0) leaseHolders.delete(key);
    }
  };
  const sweeper = setInterval(sweep, options.sweepIntervalMs ?? 30_000);
  sweeper.unref();

  const ticketStore: TicketStore = {
    async create(ticket: Ticket): Promise<void> {
      if (live(tickets, ticket.id) !== undefined) throw new Error(`ticket ${ticket.id} already exists`);
      tickets.set(ticket.id, { value: structuredClone(ticket), until: retainUntil(ticket) });
    },
    async get(id: string): Promise<Ticket | null> {
      const record = live(tickets, id);
      return record === undefined ? null : structuredClone(record.value);
    },
    async apply(id: string, transition: (ticket: Ticket) => TransitionResult, options: ApplyOptions = {}): Promise<ApplyResult> {
      // Read, transition and write happen in one synchronous stretch, so no other call can interleave; a read
      // costs nothing here, so `options.current` is not needed (only waited for, to fail as its read failed).
      if (options.current !== undefined) await options.current;
      const record = live(tickets, id);
      if (record === undefined) return { ok: false, reason: 'not_found' };
      const result = transition(structuredClone(record.value));
      if (result.ok && result.changed) {
        tickets.set(id, { value: structuredClone(result.ticket), until: retainUntil(result.ticket) });
        options.onWrite?.(structuredClone(result.ticket));
      }
      return result;
    },
  };

  const events: TicketEventBus = {
    async publish(change: TicketChange): Promise<void> {
      // Like a Redis server, route at publish time: a process not subscribed to the ticket gets nothing.
      if (!subscribed.has(change.ticket)) return;
      const message: TicketChange = { ticket: change.ticket, version: change.version };
      setImmediate(() => {
        observer?.busMessageReceived?.();
        deliverChange(ringListeners, message);
      });
    },
    async subscribe(ticket: string): Promise<void> {
      subscribed.add(ticket);
    },
    async unsubscribe(ticket: string): Promise<void> {
      subscribed.delete(ticket);
    },
    onRing(listener: TicketChangeListener): () => void {
      ringListeners.add(listener);
      return () => ringListeners.delete(listener);
    },
    onResync(): () => void {
      // An in-process bus never drops a connection, so there is never anything to catch up on.
      return () => undefined;
    },
  };

  /** The expiring set at `key` without the members lapsed by `at` (the caller's clock); undefined once empty. */
  const liveMembers = (key: string, at: number): Expiring<Map<string, number>> | undefined => {
    const record = live(expiring, key);
    if (record === undefined) return undefined;
    for (const [member, end] of record.value) if (end <= at) record.value.delete(member);
    if (record.value.size > 0) return record;
    expiring.delete(key);
    return undefined;
  };
  /** Like the Redis engine's PEXPIRE: the key lives as long as its latest member, measured from `at`. */
  const lastUntil = (members: Map<string, number>, at: number): number => {
    let last = -Infinity;
    for (const end of members.values()) last = Math.max(last, end);
    return now() + Math.ceil(last - at);
  };

  const kv: KeyValueStore = {
    async get(key: string): Promise<string | null> {
      return live(values, key)?.value ?? null;
    },
    async set(key: string, value: string, ttlMs: number): Promise<void> {
      values.set(key, { value, until: now() + ttlMilliseconds(ttlMs) });
    },
    async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
      const until = now() + ttlMilliseconds(ttlMs);
      if (live(values, key) !== undefined) return false;
      values.set(key, { value, until });
      return true;
    },
    async setIfAbsentOrGet(key: string, value: string, ttlMs: number): Promise<string | null> {
      const until = now() + ttlMilliseconds(ttlMs);
      const existing = live(values, key);
      if (existing !== undefined) return existing.value;
      values.set(key, { value, until });
      return null;
    },
    async delete(key: string): Promise<void> {
      values.delete(key);
      sets.delete(key);
      expiring.delete(key);
    },
    async increment(key: string, ttlMs?: number, by = 1): Promise<number> {
      if (!Number.isSafeInteger(by)) throw new Error(`increment ${key}: by must be an integer, got ${by}`);
      const until = ttlMs === undefined ? undefined : now() + ttlMilliseconds(ttlMs);
      const record = live(values, key);
      const current = record === undefined ? 0 : Number(record.value);
      // Redis refuses INCR on a value that is not an integer; so does memory, to keep the engines alike.
      if (!Number.isSafeInteger(current)) throw new Error(`value of ${key} is not an integer`);
      // Like INCR, an existing TTL is kept and a new counter never expires, unless a TTL is given.
      values.set(key, { value: String(current + by), until: until ?? record?.until ?? Infinity });
      return current + by;
    },
    async addToSet(key: string, member: string, ttlMs: number): Promise<void> {
      const until = now() + ttlMilliseconds(ttlMs);
      const record = live(sets, key);
      if (record === undefined) sets.set(key, { value: new Set([member]), until });
      else {
        record.value.add(member);
        record.until = Math.max(record.until, until);
      }
    },
    async setMembers(key: string): Promise<string[]> {
      return [...(live(sets, key)?.value ?? [])];
    },
    async addExpiring(key: string, member: string, until: number, at: number): Promise<void> {
      lifeUntil(until, at);
      const record = liveMembers(key, at);
      const members = record?.value ?? new Map<string, number>();
      members.set(member, Math.max(members.get(member) ?? until, until));
      expiring.set(key, { value: members, until: lastUntil(members, at) });
    },
    async expiringMembers(key: string, at: number): Promise<string[]> {
      const members = liveMembers(key, checkedNow(at))?.value ?? new Map<string, number>();
      // Redis's order: by end, then ties by member.
      const byEnd = [...members].sort(([m, x], [n, y]) => x - y || (m < n ? -1 : m > n ? 1 : 0));
      return byEnd.map(([member]) => member);
    },
    async removeExpiring(key: string, members: readonly string[], at: number): Promise<void> {
      const record = liveMembers(key, checkedNow(at));
      if (record === undefined) return;
      for (const member of members) record.value.delete(member);
      if (record.value.size === 0) expiring.delete(key);
      else record.until = lastUntil(record.value, at);
    },
    async claimDelivery(key: string, leaseMs: number): Promise<DeliveryClaim> {
      const until = now() + ttlMilliseconds(leaseMs);
      const done = live(values, `${key}:done`);
      if (done !== undefined) return { kind: 'done', answer: done.value };
      if (live(values, `${key}:lease`) !== undefined) return { kind: 'busy' };
      values.set(`${key}:lease`, { value: '1', until });
      return { kind: 'claimed' };
    },
    async settleDelivery(key: string, answer: string, ttlMs: number): Promise<void> {
      values.set(`${key}:done`, { value: answer, until: now() + ttlMilliseconds(ttlMs) });
      values.delete(`${key}:lease`);
    },
    async releaseDelivery(key: string): Promise<void> {
      values.delete(`${key}:lease`);
    },
  };

  const liveHolders = (key: string): Map<string, number> => {
    const holders = leaseHolders.get(key) ?? new Map<string, number>();
    const at = now();
    for (const [holder, until] of holders) if (at >= until) holders.delete(holder);
    return holders;
  };
  const acquire = (key: string, holder: string, limit: number, ttlMs: number, previous?: string): boolean => {
    const holders = liveHolders(key);
    // The place `previous` holds becomes `holder`'s: the count stays as it was, whatever the limit.
    const replacing = previous !== undefined && previous !== holder && holders.has(previous);
    if (!replacing && !holders.has(holder) && holders.size >= limit) return false;
    if (replacing) holders.delete(previous);
    holders.set(holder, now() + ttlMilliseconds(ttlMs));
    leaseHolders.set(key, holders);
    return true;
  };
  const leases: LeaseSet = {
    async acquire(key, holder, limit, ttlMs) {
      return acquire(key, holder, limit, ttlMs);
    },
    async replace(key, previous, holder, limit, ttlMs) {
      return acquire(key, holder, limit, ttlMs, previous);
    },
    async renew(key, holder, ttlMs) {
      const holders = liveHolders(key);
      if (!holders.has(holder)) return false;
      holders.set(holder, now() + ttlMilliseconds(ttlMs));
      return true;
    },
    async release(key, holder) {
      const holders = liveHolders(key);
      holders.delete(holder);
      if (holders.size === 0) leaseHolders.delete(key);
    },
  };

  const buckets = new Map<string, { tokens: number; at: number }>();
  const refilled = (key: string, options: BudgetOptions): { tokens: number; at: number } => {
    const at = now();
    const bucket = buckets.get(key) ?? { tokens: options.capacity, at };
    const elapsed = Math.max(0, at - bucket.at);
    return { tokens: Math.min(options.capacity, bucket.tokens + (elapsed / 1000) * options.refillPerSecond), at: Math.max(at, bucket.at) };
  };
  /** Count one attempt; true when it is over the limit. */
  const overLimit = (key: string, limit: AttemptLimit): boolean => {
    const window = live(attempts, `${key}\n${limit.key}`) ?? { value: 0, until: now() + ttlMilliseconds(limit.windowMs) };
    window.value += 1;
    attempts.set(`${key}\n${limit.key}`, window);
    return window.value > limit.points;
  };
  const budgets: Budgets = {
    async take(key, options, attempt) {
      if (key.includes('{')) throw new Error(`budget key ${JSON.stringify(key)} must not contain '{'`);
      if (attempt !== undefined && overLimit(key, attempt)) {
        return { ok: false, remaining: Math.floor(refilled(key, options).tokens), limited: true };
      }
      const bucket = refilled(key, options);
      const ok = bucket.tokens >= 1;
      if (ok) bucket.tokens -= 1;
      buckets.set(key, bucket);
      return { ok, remaining: Math.floor(bucket.tokens) };
    },
    async peek(key, options) {
      return Math.floor(refilled(key, options).tokens);
    },
  };

  return {
    kind: 'memory',
    tickets: ticketStore,
    events,
    kv,
    leases,
    budgets,
    createRateLimiter(limit: RateLimitOptions): RateLimiter {
      return rateLimiterOver(new RateLimiterMemory({ keyPrefix: limit.keyPrefix, points: limit.points, duration: limit.durationSeconds }));
    },
    async ping(): Promise<void> {
      // Nothing to reach: the store is this process's own memory.
    },
    async close(): Promise<void> {
      clearInterval(sweeper);
      leaseHolders.clear();
      subscribed.clear();
      ringListeners.clear();
    },
  };
}
