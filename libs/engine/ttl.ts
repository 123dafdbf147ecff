/** TTL arguments of the key-value store, checked the same way by every engine. */

/**
 * A TTL as whole milliseconds (rounded up, so a value never lives shorter than asked). Throws a RangeError
 * for a TTL that is not a positive finite number: Redis would refuse it, and memory must not accept what
 * Redis refuses.
 */
export function ttlMilliseconds(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new RangeError(`TTL must be a positive number of ms, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}
