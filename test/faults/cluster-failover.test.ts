/**
 * Fault scenario e at the small size (test/faults/support/scenarios.ts; `npm run test:faults` runs it at full size).
 */
import { describe, expect, it } from 'vitest';
import { expectClean } from './support/expect-clean.js';
import { SMALL, clusterFailover } from './support/scenarios.js';

describe('fault: a Redis Cluster master SIGKILLed after its replica synced', () => {
  it('loses, doubles and strands no login', async () => {
    const result = await clusterFailover(SMALL);
    expectClean(result, { started: SMALL.browsers });
    expect(result.tally.loggedInOnce).toBe(SMALL.browsers);
  }, 600_000);
});
