/**
 * The assertions every fault scenario makes at the small size in `npm test`: nothing lost, doubled or stuck,
 * every scanned browser logged in, no app log line about an unhandled rejection or an uncaught exception.
 */
import { expect } from 'vitest';
import { formatTable } from './tally.js';
import type { ScenarioResult } from './scenarios.js';

export function expectClean(result: ScenarioResult, expected: { started: number }): void {
  const { tally } = result;
  // The row is printed either way: it is the evidence, failing or not.
  console.log([formatTable([tally]), ...result.badBrowsers].join('\n'));
  expect(tally.started).toBe(expected.started);
  expect(result.crashLines, result.logTail).toEqual([]);
  expect({ lost: tally.lost, duplicated: tally.duplicated, stuck: tally.stuck }, result.logTail).toEqual({
    lost: 0,
    duplicated: 0,
    stuck: 0,
  });
  expect(tally.loggedInOnce + tally.expiredOrRefreshed).toBe(tally.started);
}
