/**
 * The rate limiter behind our own small interface. `rate-limiter-flexible` rejects a refused point with a
 * `RateLimiterRes` (not an Error) and a failed store with the store's Error; callers would have to tell the
 * two apart every time. Here a refusal is a value and a rejection is always an Error.
 */
import type { RateLimiterAbstract } from 'rate-limiter-flexible';

/** Whether one more action is allowed now. */
export type RateLimitVerdict = { ok: true } | { ok: false; retryAfterMs: number };

/** A fixed window of `points` actions per key. */
export interface RateLimiter {
  /** Take one point for `key`. Rejects only when the store fails, and then with an Error. */
  take(key: string): Promise<RateLimitVerdict>;
}

/** Used when the library's refusal carries no wait: a window is at most this long in qrgate. */
const FALLBACK_RETRY_MS = 60_000;

/** Wrap a `rate-limiter-flexible` limiter (memory or Redis) as a {@link RateLimiter}. */
export function rateLimiterOver(limiter: RateLimiterAbstract): RateLimiter {
  return {
    async take(key) {
      try {
        await limiter.consume(key);
        return { ok: true };
      } catch (rejection) {
        if (rejection instanceof Error) throw rejection;
        const wait = (rejection as { msBeforeNext?: unknown } | null)?.msBeforeNext;
        if (typeof wait === 'number') return { ok: false, retryAfterMs: wait };
        if (typeof rejection === 'object' && rejection !== null && 'remainingPoints' in rejection) {
          return { ok: false, retryAfterMs: FALLBACK_RETRY_MS };
        }
        throw new Error(`rate limiter failed: ${String(rejection)}`, { cause: rejection });
      }
    },
  };
}
