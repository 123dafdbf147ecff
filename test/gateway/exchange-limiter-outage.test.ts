/**
 * The exchange's per-client counter lives in the store like the code it guards: when the store fails over
 * (the Cluster failover scenario saw "Too many Cluster redirections" here), `POST /api/session` answers
 * `503 STORE_UNAVAILABLE`, which the client retries, not a final `500` that would cost a confirmed login.
 */
import { afterEach, expect, it } from 'vitest';
import { exchangeRetryable } from '../../libs/client/exchange-retry.js';
import { startGateway, type GatewayHarness } from '../support/gateway-harness.js';

let harness: GatewayHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

it('answers 503 STORE_UNAVAILABLE when the exchange rate limiter cannot reach the store', async () => {
  let failing = true;
  harness = await startGateway(
    {},
    {
      prepareEngine(engine) {
        const create = engine.createRateLimiter.bind(engine);
        engine.createRateLimiter = (options) => {
          const limiter = create(options);
          if (options.keyPrefix !== 'rl:exchange') return limiter;
          return { take: (key) => (failing ? Promise.reject(new Error('Too many Cluster redirections.')) : limiter.take(key)) };
        };
      },
    },
  );
  const post = () =>
    fetch(`${harness!.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 'c'.repeat(43), secret: 's'.repeat(43) }),
    });
  const refused = await post();
  expect(refused.status).toBe(503);
  expect(refused.headers.get('retry-after')).toBe('1');
  expect(await refused.json()).toMatchObject({ code: 'STORE_UNAVAILABLE' });
  expect(exchangeRetryable(refused.status)).toBe(true);
  // The store is back: the same request is judged on its merits (an unknown code).
  failing = false;
  const judged = await post();
  expect(judged.status).toBe(401);
});
