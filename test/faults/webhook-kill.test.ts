/**
 * Fault scenario c at the small size (test/faults/support/scenarios.ts; `npm run test:faults` runs it at full size).
 */
import { describe, expect, it } from 'vitest';
import { expectClean } from './support/expect-clean.js';
import { SMALL, webhookKill } from './support/scenarios.js';

describe('fault: a webhook SIGKILLed mid-burst, WeChat re-sending', () => {
  it('loses, doubles and strands no login', async () => {
    const result = await webhookKill(SMALL);
    expectClean(result, { started: SMALL.browsers });
    expect(result.tally.loggedInOnce).toBe(SMALL.browsers);
  }, 600_000);
});
