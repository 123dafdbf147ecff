/**
 * Marks that make a re-delivered message safe to handle, whatever point a process dies at (STYLE.md §19).
 * WeChat re-sends a push it got no answer to (WECHAT.md §6): the re-send of a delivery whose handling did not
 * finish must be handled again, and the re-send of one that finished must get the same answer without the
 * work being done twice.
 *
 * Two marks per delivery key, both in the shared key-value store:
 * - `…:lease`, set-if-absent with a short TTL while a process works on the delivery. A process killed mid-work
 *   leaves it behind, but it expires on its own well before WeChat's next re-send (about 5 s later), so the
 *   re-send is handled again. Meanwhile a second delivery of the same message waits for the first.
 * - `…:done`, the answer, written after the work. A later re-send gets it back and nothing is redone.
 *
 * The work itself must be idempotent for the window between its effect and the `done` mark (a kill there
 * means it runs again): the ticket's compare-and-set transition is, and its doorbell may ring twice.
 * Each look at the marks is one atomic store call (`claimDelivery`: the answer, or the lease; `settleDelivery`:
 * the answer and the lease's end), one round trip apiece on Redis.
 */
import type { KeyValueStore } from '../engine/index.js';

export interface DeliveryMarkOptions {
  /** How long a worker holds a delivery before another may take it over, ms. Default {@link DELIVERY_LEASE_MS}. */
  leaseMs?: number;
  /** How long the answer of a finished delivery is kept, ms. Default {@link DELIVERY_DONE_TTL_MS}. */
  doneTtlMs?: number;
  /** Pause between looks while another process holds the lease, ms. Default 50. */
  pollMs?: number;
}

/** Shorter than WeChat's ~5 s between deliveries, so a dead worker's lease is gone before the re-send. */
export const DELIVERY_LEASE_MS = 3_000;
/** Longer than WeChat's retries (3 deliveries about 5 s apart, WECHAT.md §6). */
export const DELIVERY_DONE_TTL_MS = 10 * 60 * 1000;

/** The answer, and whether it was computed now (`fresh`) or replayed from an earlier delivery. */
export type DeliveryResult<T> = { fresh: boolean; value: T };

/** Thrown when another worker kept the delivery past two leases: the caller should ask for a re-send. */
export class DeliveryBusyError extends Error {
  constructor() {
    super('another worker still holds this delivery');
    this.name = 'DeliveryBusyError';
  }
}

/** How the delivery came to be this worker's: `waited` when another worker held it first. */
export interface DeliveryClaimed {
  waited: boolean;
}

/**
 * Handle the delivery named `key` at most once to completion: `work` runs unless an earlier delivery finished
 * (its answer is returned) or one is under way (waited for, then its answer, or taken over once its lease
 * lapses). `work`'s value must survive JSON. If `work` throws, the lease is released so a re-send runs again.
 */
export async function handleDelivery<T>(
  kv: KeyValueStore,
  key: string,
  work: (claimed: DeliveryClaimed) => Promise<T>,
  options: DeliveryMarkOptions = {},
): Promise<DeliveryResult<T>> {
  const leaseMs = options.leaseMs ?? DELIVERY_LEASE_MS;
  const giveUpAt = Date.now() + 2 * leaseMs;
  let waited = false;
  for (; ; waited = true) {
    const claim = await kv.claimDelivery(key, leaseMs);
    if (claim.kind === 'done') return { fresh: false, value: JSON.parse(claim.answer) as T };
    if (claim.kind === 'claimed') break;
    if (Date.now() >= giveUpAt) throw new DeliveryBusyError();
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 50));
  }
  let value: T;
  try {
    value = await work({ waited });
  } catch (error) {
    // Best effort: if this fails too, the lease lapses by itself before the re-send.
    await kv.releaseDelivery(key).catch(() => undefined);
    throw error;
  }
  await kv.settleDelivery(key, JSON.stringify(value), options.doneTtlMs ?? DELIVERY_DONE_TTL_MS);
  return { fresh: true, value };
}
