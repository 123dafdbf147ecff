/**
 * The exchange's retry rule (libs/client/exchange-retry.ts), shared by the login page and the fault suite's
 * browsers: what no gateway finished is sent again with a growing pause, a real answer is final.
 */
import { describe, expect, it } from 'vitest';
import {
  EXCHANGE_ATTEMPT_TIMEOUT_MS,
  EXCHANGE_ATTEMPTS,
  exchangeRetryable,
  exchangeRetryDelayMs,
} from '../../libs/client/exchange-retry.js';
import { REDEEM_REPLAY_SECONDS } from '../../libs/ticket/index.js';

describe('exchange retry', () => {
  it('retries no answer and the load balancer errors of a gateway that died or drained', () => {
    expect([null, 502, 503, 504].map(exchangeRetryable)).toEqual([true, true, true, true]);
  });

  it('takes any answer of a gateway as final: success, refusals, its own errors', () => {
    expect([200, 400, 401, 413, 429, 500].map(exchangeRetryable)).toEqual([false, false, false, false, false, false]);
  });

  it('doubles the pause and stops after the last attempt', () => {
    const delays = Array.from({ length: EXCHANGE_ATTEMPTS }, (_, i) => exchangeRetryDelayMs(i + 1));
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, null]);
  });

  it('ends every attempt, each cut off unanswered, within the window in which a repeated exchange gets its session', () => {
    const pauses = Array.from({ length: EXCHANGE_ATTEMPTS }, (_, i) => exchangeRetryDelayMs(i + 1) ?? 0);
    const worstMs = pauses.reduce((a, b) => a + b, 0) + EXCHANGE_ATTEMPTS * EXCHANGE_ATTEMPT_TIMEOUT_MS;
    expect(worstMs).toBeLessThan(REDEEM_REPLAY_SECONDS * 1000);
  });
});
