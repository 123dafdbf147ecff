/**
 * When the browser asks `POST /api/session` again. A gateway that dies or drains while a login code is being
 * exchanged answers through the load balancer with 502/503/504, or not at all; another gateway can finish the
 * exchange, so those are retried with a growing pause. Any other answer is final (a 401 is a real refusal).
 * A retry of a request whose answer was lost after the code was consumed is answered with the same session by
 * the gateway (the idempotent replay in libs/ticket/redeem-replay.ts), so retrying never costs the login.
 * Pure, so the login page and the fault suite's simulated browsers follow the same rule.
 */

/** Requests in all, the first included: with the pauses below the last starts about 7.5 s after the first. */
export const EXCHANGE_ATTEMPTS = 5;

/** Pause before the second request; doubled before each further one. */
export const EXCHANGE_BACKOFF_MS = 500;

/**
 * How long one request may go unanswered before it counts as no answer (and is sent again). A request stuck
 * behind a dying or overloaded gateway would otherwise hold the login until the load balancer gave up (60 s),
 * past the 30 s in which the gateway answers a repeated exchange with the same session: with 5 attempts and
 * the pauses above, the last one ends within 7.5 + 5 × 4 = 27.5 s of the first.
 */
export const EXCHANGE_ATTEMPT_TIMEOUT_MS = 4_000;

/** Answers that mean "no gateway finished this request": the load balancer's own errors. */
const PASSING_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** Whether a request that got `status` (`null`: no answer, a network error) should be sent again. */
export function exchangeRetryable(status: number | null): boolean {
  return status === null || PASSING_STATUSES.has(status);
}

/** The pause before request number `attempt + 1`, ms (`attempt` counts from 1), or null when none is left. */
export function exchangeRetryDelayMs(attempt: number): number | null {
  if (attempt >= EXCHANGE_ATTEMPTS) return null;
  return EXCHANGE_BACKOFF_MS * 2 ** (attempt - 1);
}
