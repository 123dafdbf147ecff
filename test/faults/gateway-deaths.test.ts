/**
 * Fault scenario b at the small size (test/faults/support/scenarios.ts; `npm run test:faults` runs it at full size).
 */
import { describe, expect, it } from 'vitest';
import { expectClean } from './support/expect-clean.js';
import { SMALL, gatewayDeaths } from './support/scenarios.js';

describe('fault: a gateway SIGKILLed and one SIGTERMed while browsers wait', () => {
  it('loses, doubles and strands no login', async () => {
    const result = await gatewayDeaths(SMALL);
    expectClean(result, { started: SMALL.browsers });
    expect(result.tally.loggedInOnce).toBe(SMALL.browsers);
  }, 600_000);
});
