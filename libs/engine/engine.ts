/**
 * The engine: where tickets live and how their changes travel between processes.
 *
 * Contract (every implementation, checked by `engine-contract.ts`):
 * - The ticket store is the truth. `apply` runs a pure transition and writes its result only if nobody changed
 *   the ticket in between (compare-and-set on `version`), retrying on conflict, so of two concurrent
 *   transitions from `pending` exactly one wins.
 * - A ticket disappears at `retainUntil(ticket)`; `get` never returns an expired record.
 * - The event bus is only a doorbell: `publish` reaches every process subscribed to that ticket, and only
 *   those; a listener reads the store for the ticket's state. Delivery is at most once; a message missed by a
 *   browser is made good by reading the store when it (re)connects, one missed by a process while its bus
 *   connection was down by the `onResync` call that follows the reconnect.
 * - `kv` holds small shared values (dedupe marks, the WeChat token, counters, small sets) with a TTL in
 *   milliseconds; every operation touches one key, so nothing is multi-slot on Redis Cluster.
 */
import type { RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Ticket, TicketStatus, TransitionResult } from '../ticket/index.js';

export type ApplyResult = TransitionResult | { ok: false; reason: 'not_found' };

export interface TicketStore {
  /** Store a new ticket. Rejects if a ticket with that id exists. */
  create(ticket: Ticket): Promise<void>;
  /** The ticket, or null when unknown or past its retention. */
  get(id: string): Promise<Ticket | null>;
  /** Atomically apply a pure transition to the current ticket; writes only when the transition changed it. */
  apply(id: string, transition: (ticket: Ticket) => TransitionResult): Promise<ApplyResult>;
}

/** What travels on the bus: which ticket changed, to what, at which version. */
export interface TicketChange {
  ticket: string;
  status: TicketStatus;
  version: number;
}

export type TicketChangeListener = (change: TicketChange) => void;

export interface TicketEventBus {
  /** Ring the doorbell of one ticket. Resolves once the message is handed to the transport. */
  publish(change: TicketChange): Promise<void>;
  /**
   * Listen to one ticket. Resolves once the subscription is active, with a function that removes it.
   * Several listeners for one ticket share one underlying subscription.
   */
  subscribe(ticket: string, listener: TicketChangeListener): Promise<() => Promise<void>>;
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
  delete(key: string): Promise<void>;
  /** Increment a counter that never expires; returns the new value. */
  increment(key: string): Promise<number>;
  /**
   * Add `member` to the set at `key`, which lives at least `ttlMs` from now (a longer remaining life is kept):
   * an index such as "every token of one grant" that outlives each member it lists. `delete` removes it.
   */
  addToSet(key: string, member: string, ttlMs: number): Promise<void>;
  /** The members of the set at `key`, in no particular order; empty when absent or expired. */
  setMembers(key: string): Promise<string[]>;
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
  createRateLimiter(options: RateLimitOptions): RateLimiterAbstract;
  /** Resolves when the backing store answers; used by `/readyz`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
