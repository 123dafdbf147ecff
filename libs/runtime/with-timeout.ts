/**
 * The one timeout race: a promise against a deadline, without the timer outliving the race. The work itself
 * is not cancelled (a promise cannot be); the caller decides what a late answer means.
 */

/** What {@link withTimeout} resolves with when the deadline passes first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/** Resolve (or reject) as `promise` does, or with {@link TIMED_OUT} once `ms` pass first. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
