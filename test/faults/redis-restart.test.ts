/**
 * Fault scenario d at the small size (test/faults/support/scenarios.ts; `npm run test:faults` runs it at full size).
 */
import { describe, expect, it } from 'vitest';
import { expectClean } from './support/expect-clean.js';
import { SMALL, redisRestart } from './support/scenarios.js';

describe('fault: Redis restarted without persistence', () => {
  it('loses, doubles and strands no login', async () => {
    const result = await redisRestart(SMALL);
    expectClean(result, { started: SMALL.browsers });
    // Half were scanned after the restart and log in; the other half show a fresh QR code.
    expect(result.tally.loggedInOnce).toBe(SMALL.browsers / 2);
    expect(result.tally.expiredOrRefreshed).toBe(SMALL.browsers / 2);
  }, 600_000);
});
