/**
 * Fault scenario f at the small size (test/faults/support/scenarios.ts; `npm run test:faults` runs it at full size).
 */
import { describe, expect, it } from 'vitest';
import { expectClean } from './support/expect-clean.js';
import { SMALL, wechatApiFaults } from './support/scenarios.js';

describe('fault: the WeChat API slow, then failing, then healthy', () => {
  it('loses, doubles and strands no login', async () => {
    const result = await wechatApiFaults(SMALL);
    expectClean(result, { started: SMALL.browsers + 2 * Math.max(4, Math.floor(SMALL.browsers / 4)) });
    expect(result.tally.loggedInOnce).toBe(result.tally.started);
    // New logins were refused for a while (slow, then 500) and then served again.
    expect(result.tally.refusedMs).toBeGreaterThan(0);
  }, 600_000);
});
