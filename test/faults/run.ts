/**
 * `npm run test:faults`: every fault scenario at full size (over a thousand concurrent logins, browsers
 * spread over worker processes), one after the other, then the table. Exits 1 when any scenario lost,
 * doubled or stranded a login, or an app logged an unhandled rejection or uncaught exception.
 * QRGATE_FAULTS_BROWSERS overrides the number of browsers (e.g. to try it on a small machine);
 * QRGATE_FAULTS_ONLY=<name,...> runs only the scenarios whose names contain one of them; QRGATE_FAULTS_LOG_DIR
 * keeps every app's log there; QRGATE_FAULTS_GATEWAY_NODE_OPTIONS is passed to the gateways as NODE_OPTIONS.
 */
import { FULL, SCENARIOS, type ScenarioResult, type Size } from './support/scenarios.js';
import { formatTable, type Tally } from './support/tally.js';

const browsers = Number(process.env.QRGATE_FAULTS_BROWSERS ?? FULL.browsers);
const size: Size = { ...FULL, browsers: Number.isInteger(browsers) && browsers > 0 ? browsers : FULL.browsers };
const only = process.env.QRGATE_FAULTS_ONLY?.split(',');

// Interrupted: exit through 'exit', where test/support/app-process.ts kills every process it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const rows: Tally[] = [];
let bad = false;
for (const scenario of SCENARIOS) {
  if (only !== undefined && !only.some((name) => scenario.name.toLowerCase().includes(name.toLowerCase()))) continue;
  process.stdout.write(`running ${scenario.name} with ${size.browsers} browsers over ${size.workers} processes…\n`);
  let result: ScenarioResult;
  try {
    result = await scenario(size);
  } catch (error) {
    bad = true;
    process.stdout.write(`${scenario.name} failed to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    continue;
  }
  rows.push(result.tally);
  const lag = Object.entries(result.worstLagMs).map(([label, ms]) => `${label} ${(ms / 1000).toFixed(1)} s`);
  process.stdout.write(`  worst event-loop delay: ${lag.join(', ') || 'not read'}\n`);
  if (result.tapRetries > 0) process.stdout.write(`  ${result.tapRetries} confirmation taps failed and were tapped again\n`);
  const { lost, duplicated, stuck, examples } = result.tally;
  if (lost + duplicated + stuck > 0) {
    bad = true;
    process.stdout.write(`  lost ${lost}, duplicated ${duplicated}, stuck ${stuck}; e.g. browsers ${JSON.stringify(examples)}\n`);
    process.stdout.write(`${result.badBrowsers.join('\n')}\n`);
  }
  if (result.crashLines.length > 0) {
    bad = true;
    process.stdout.write(`  app logs mention a crash:\n${result.crashLines.slice(0, 10).join('\n')}\n`);
  }
}
process.stdout.write(`\n${formatTable(rows)}\n`);
process.exit(bad ? 1 : 0);
