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

/**
 * The life left to an expiring-set member that ends at `until`, seen at `now` (both epoch ms), as whole
 * milliseconds rounded up. Throws a RangeError unless both are finite and `until` is after `now`.
 */
export function lifeUntil(until: number, now: number): number {
  checkedNow(now);
  if (!Number.isFinite(until) || until <= now) throw new RangeError(`an expiring member must end after now (${now}), got ${until}`);
  return Math.ceil(until - now);
}

/** `now` as given, if it is a finite epoch ms; else a RangeError. */
export function checkedNow(now: number): number {
  if (!Number.isFinite(now)) throw new RangeError(`now must be a finite epoch ms, got ${now}`);
  return now;
}
