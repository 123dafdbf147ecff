/**
 * The engine: where tickets live and how their changes travel between processes.
 *
 * Contract (every implementation, checked by `engine-contract.ts`):
 * - The ticket store is the truth. `apply` runs a pure transition and writes its result only if nobody changed
 *   the ticket in between (compare-and-set on `version`), retrying on conflict, so of two concurrent
 *   transitions from `pending` exactly one wins.
 * - A ticket disappears at `retainUntil(ticket)`; `get` never returns an expired record.
 * - The event bus is only a doorbell: `publish` reaches every process subscribed to that ticket, and only
 *   those; the message names the ticket and its version, never its state, which a listener reads from the
 *   store (so a state this code does not know yet can never make a message undeliverable). The bus does not
 *   count who in a process listens: the process's hub subscribes a ticket once and unsubscribes it once. Delivery is at most once; a message missed by a
 *   browser is made good by reading the store when it (re)connects, one missed by a process while its bus
 *   connection was down by the `onResync` call that follows the reconnect.
 * - `apply(…, { onWrite })` calls `onWrite` with the changed ticket as its write is sent, before the write's
 *   outcome is known, so a doorbell rung from it shares the write's round trip: a process hearing that ring
 *   reads the write (Redis runs one connection's commands in order; memory writes before it calls). A write
 *   that then loses its compare-and-set has rung for nothing, which the doorbell allows; the retry rings again.
 * - `kv` holds small shared values (dedupe marks, the WeChat token, counters, small sets) with a TTL in
 *   milliseconds; every operation touches one key, so nothing is multi-slot on Redis Cluster. The
 *   delivery marks of one key (`claimDelivery`, `settleDelivery`, `releaseDelivery`) live in one cluster slot,
 *   so each of those calls is one atomic round trip.
 * - `leases` bounds how many holders share one key fleet-wide (sockets on a ticket); a holder that stops
 *   renewing (its process died) lapses after its TTL, so the count heals by itself. A place changes hands only
 *   through `replace`, and `renew` never takes one, so a holder replaced stays out.
 * - `budgets` are token buckets every process draws from (the WeChat QR quota); a refusal takes nothing. A
 *   draw may first count the attempt against a per-client window (`AttemptLimit`) in the same atomic step,
 *   one round trip on Redis: over the limit, nothing is drawn.
 */
import type { Ticket, TransitionResult } from '../ticket/index.js';
import type { RateLimiter } from './rate-limiter.js';

export type ApplyResult = TransitionResult | { ok: false; reason: 'not_found' };

export interface ApplyOptions {
  /**
   * Called synchronously as a changed ticket's write is sent, once per attempt (a retry after a conflict calls
   * it again; the last call is the write that stands). It must not throw; it may start I/O, which then
   * travels right behind the write.
   */
  onWrite?(ticket: Ticket): void;
  /**
   * A read of the ticket already under way (`get`), started alongside other work to save a round trip: the
   * first attempt may start from it instead of reading again. A stale one only costs a compare-and-set
   * conflict and a fresh read, so the outcome is the same as without it.
   */
  current?: Promise<Ticket | null>;
  /**
   * The write must outlive a failover: on a Redis Cluster whose master for this ticket has a replica, `apply`
   * resolves only once a replica acknowledged the write (and `onWrite` is called only then), and rejects
   * with `ReplicaUnconfirmedError` when none did in time. A transition that changes nothing waits the same
   * way for the ticket as stored (a re-run after such a rejection). No effect on standalone Redis or memory.
   */
  durable?: boolean;
}

/**
 * Where a delivery stands (`KeyValueStore.claimDelivery`): finished earlier (`done`, with its answer), now
 * this caller's to work on (`claimed`), or held by another worker (`busy`).
 */
export type DeliveryClaim = { kind: 'done'; answer: string } | { kind: 'claimed' } | { kind: 'busy' };

export interface TicketStore {
  /** Store a new ticket. Rejects if a ticket with that id exists. */
  create(ticket: Ticket): Promise<void>;
  /** The ticket, or null when unknown or past its retention. */
  get(id: string): Promise<Ticket | null>;
  /** Atomically apply a pure transition to the current ticket; writes only when the transition changed it. */
  apply(id: string, transition: (ticket: Ticket) => TransitionResult, options?: ApplyOptions): Promise<ApplyResult>;
}

/** What travels on the bus: which ticket changed, and the version it changed to. */
export interface TicketChange {
  ticket: string;
  version: number;
}

export type TicketChangeListener = (change: TicketChange) => void;

export interface TicketEventBus {
  /** Ring the doorbell of one ticket. Resolves once the message is handed to the transport. */
  publish(change: TicketChange): Promise<void>;
  /**
   * Subscribe this process to one ticket's doorbell. Resolves once the subscription is active. Idempotent:
   * subscribing twice is one subscription, ended by one `unsubscribe`.
   */
  subscribe(ticket: string): Promise<void>;
  /** End this process's subscription to the ticket (idempotent). */
  unsubscribe(ticket: string): Promise<void>;
  /**
   * Register `listener` for every doorbell this process receives, of any subscribed ticket. A listener that
   * throws does not keep the message from the others. Returns a remover.
   */
  onRing(listener: TicketChangeListener): () => void;
  /**
   * Register `listener` for the moments when messages may have been lost: the transport reconnected (and has
   * re-subscribed). Whoever watches tickets must then re-read the store for each of them. Returns a remover.
   */
  onResync(listener: () => void): () => void;
}

export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Set only if absent; true when this call set it (a lock or a first-time mark). */
  setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** Set only if absent, atomically: null when this call set it, else the value already there. */
  setIfAbsentOrGet(key: string, value: string, ttlMs: number): Promise<string | null>;
  delete(key: string): Promise<void>;
  /**
   * Add `by` (default 1; a negative number takes away) to a counter; returns the new value. Without `ttlMs` it
   * never expires (an existing TTL is kept); with it, the counter expires `ttlMs` after this call (a sliding TTL).
   */
  increment(key: string, ttlMs?: number, by?: number): Promise<number>;
  /**
   * One atomic look at the delivery `key`: its answer if it finished, else a lease of `leaseMs` taken for this
   * caller if nobody holds one (`claimed`), else `busy`.
   */
  claimDelivery(key: string, leaseMs: number): Promise<DeliveryClaim>;
  /** Record the delivery's answer for `ttlMs` and drop its lease, atomically. */
  settleDelivery(key: string, answer: string, ttlMs: number): Promise<void>;
  /** Drop the delivery's lease (its work failed), so a re-send is handled again at once. */
  releaseDelivery(key: string): Promise<void>;
  /**
   * Add `member` to the set at `key`, which lives at least `ttlMs` from now (a longer remaining life is kept):
   * an index such as "every token of one grant" that outlives each member it lists. `delete` removes it.
   */
  addToSet(key: string, member: string, ttlMs: number): Promise<void>;
  /** The members of the set at `key`, in no particular order; empty when absent or expired. */
  setMembers(key: string): Promise<string[]>;
  /**
   * Put `member` in the expiring set at `key` until `until`: a set whose members lapse one by one, for an
   * index (such as "the sessions of one user") that must hold only what may still be live. `until` and `now`
   * are epoch ms of the caller's clock, `until` after `now` (else a RangeError). A member already there keeps
   * the later of its two ends. Members whose end is not after `now` are dropped first, and the key lives
   * until its latest member's end (relative to `now`). Not the same key space as `addToSet`'s sets: a key
   * holds one kind or the other. `delete` removes it.
   */
  addExpiring(key: string, member: string, until: number, now: number): Promise<void>;
  /** The members of the expiring set at `key` whose end is after `now`, earliest end first; drops the rest. */
  expiringMembers(key: string, now: number): Promise<string[]>;
  /**
   * Take `members` out of the expiring set at `key` (absent ones are ignored), dropping those lapsed by `now`;
   * the key then lives until its latest remaining member's end, and goes once empty.
   */
  removeExpiring(key: string, members: readonly string[], now: number): Promise<void>;
}

/** Places under one key, each held by a named holder until its lease lapses. */
export interface LeaseSet {
  /**
   * Hold (or renew) `holder`'s place under `key` for `ttlMs`, if fewer than `limit` other live holders have
   * one. True when `holder` holds a place afterwards; false (and nothing changed) when the key is full.
   */
  acquire(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean>;
  /**
   * Give `previous`'s place under `key` to `holder`, atomically, when `previous` holds a live one: the count
   * does not change, so a full key admits a holder that names the one it replaces (a client reconnecting in
   * place of its own dead connection). When `previous` holds no place (unknown, released, lapsed), exactly
   * `acquire(key, holder, limit, ttlMs)`. True when `holder` holds a place afterwards.
   */
  replace(key: string, previous: string, holder: string, limit: number, ttlMs: number): Promise<boolean>;
  /**
   * Extend `holder`'s place under `key` to `ttlMs` from now, only if it still holds a live one. False (and
   * nothing changed) when it holds none: released, given to another by `replace`, or lapsed. Never takes a
   * place, so a holder that was replaced cannot take one back by renewing.
   */
  renew(key: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Give `holder`'s place back (idempotent). */
  release(key: string, holder: string): Promise<void>;
}

/** A token bucket: `capacity` tokens at most, refilled continuously at `refillPerSecond`. Starts full. */
export interface BudgetOptions {
  capacity: number;
  refillPerSecond: number;
}

/**
 * A fixed window of `points` attempts per `key` (e.g. a client's address): the first attempt opens a window
 * of `windowMs`, and attempts beyond `points` in it are refused.
 */
export interface AttemptLimit {
  key: string;
  points: number;
  windowMs: number;
}

/** What a draw from a budget found. */
export interface BudgetVerdict {
  /** True when the token was taken. */
  ok: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
  /** True when the attempt was over its `AttemptLimit`: nothing was drawn. */
  limited?: boolean;
}

export interface Budgets {
  /**
   * Take one token from `key`'s bucket if a whole one is there; a refusal takes nothing. With `attempt`, the
   * attempt is counted against that limit first (whatever the outcome), and over the limit nothing is drawn.
   * `key` must not contain `{` (on Redis Cluster the attempt counters share its slot).
   */
  take(key: string, options: BudgetOptions, attempt?: AttemptLimit): Promise<BudgetVerdict>;
  /** Whole tokens in `key`'s bucket now, taking nothing. */
  peek(key: string, options: BudgetOptions): Promise<number>;
}

export interface RateLimitOptions {
  /** Distinguishes limiters sharing one store. */
  keyPrefix: string;
  /** Allowed actions per window. */
  points: number;
  /** Window length in seconds. */
  durationSeconds: number;
}

/** Observers the composition root can attach, e.g. to count bus traffic. */
export interface EngineObserver {
  /** Called once for every ticket-change message received from the cross-process bus. */
  busMessageReceived?(): void;
}

export interface Engine {
  readonly kind: 'memory' | 'redis' | 'redis-cluster';
  readonly tickets: TicketStore;
  readonly events: TicketEventBus;
  readonly kv: KeyValueStore;
  readonly leases: LeaseSet;
  readonly budgets: Budgets;
  /** A limiter whose counters every process on the same store shares. */
  createRateLimiter(options: RateLimitOptions): RateLimiter;
  /** Resolves when the backing store answers; used by `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
