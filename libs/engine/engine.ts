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
 * - `kv` holds small shared values (dedupe marks, the WeChat token, counters) with a TTL in milliseconds.
 * - `leases` bounds how many holders share one key fleet-wide (sockets on a ticket); a holder that stops
 *   renewing (its process died) lapses after its TTL, so the count heals by itself.
 * - `budgets` are token buckets every process draws from (the WeChat QR quota); a refusal takes nothing.
 */
import type { Ticket, TransitionResult } from '../ticket/index.js';
import type { RateLimiter } from './rate-limiter.js';

export type ApplyResult = TransitionResult | { ok: false; reason: 'not_found' };

export interface TicketStore {
  /** Store a new ticket. Rejects if a ticket with that id exists. */
  create(ticket: Ticket): Promise<void>;
  /** The ticket, or null when unknown or past its retention. */
  get(id: string): Promise<Ticket | null>;
  /** Atomically apply a pure transition to the current ticket; writes only when the transition changed it. */
  apply(id: string, transition: (ticket: Ticket) => TransitionResult): Promise<ApplyResult>;
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
  delete(key: string): Promise<void>;
  /** Increment a counter that never expires; returns the new value. */
  increment(key: string): Promise<number>;
}

/** Places under one key, each held by a named holder until its lease lapses. */
export interface LeaseSet {
  /**
   * Hold (or renew) `holder`'s place under `key` for `ttlMs`, if fewer than `limit` other live holders have
   * one. True when `holder` holds a place afterwards; false (and nothing changed) when the key is full.
   */
  acquire(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean>;
  /** Give `holder`'s place back (idempotent). */
  release(key: string, holder: string): Promise<void>;
}

/** A token bucket: `capacity` tokens at most, refilled continuously at `refillPerSecond`. Starts full. */
export interface BudgetOptions {
  capacity: number;
  refillPerSecond: number;
}

/** What a draw from a budget found. */
export interface BudgetVerdict {
  /** True when the token was taken. */
  ok: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
}

export interface Budgets {
  /** Take one token from `key`'s bucket if a whole one is there; a refusal takes nothing. */
  take(key: string, options: BudgetOptions): Promise<BudgetVerdict>;
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
