/**
 * Fault scenario a at the small size (test/faults/support/scenarios.ts; `npm run test:faults` runs it at full size).
 */
import { describe, expect, it } from 'vitest';
import { expectClean } from './support/expect-clean.js';
import { SMALL, socketDrops } from './support/scenarios.js';

describe('fault: random socket drops around the scan, with resume (tap mode)', () => {
  it('loses, doubles and strands no login', async () => {
    const result = await socketDrops(SMALL);
    expectClean(result, { started: SMALL.browsers });
    expect(result.tally.loggedInOnce).toBe(SMALL.browsers);
  }, 600_000);
});
