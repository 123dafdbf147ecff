/**
 * `npm run bench [-- --quick]`: measures every figure of issue 10's table against its floor in the same run
 * (bench/floors/), starting and stopping every process itself, and writes `bench/results/<date>.json`,
 * `bench/results/latest.md` and the SVG charts. Figures only: nothing here passes or fails on speed.
 * `--quick` runs the same scenarios at small sizes (about a minute); `--out <dir>` writes elsewhere;
 * `--render <file.json>` measures nothing and rewrites latest.md and the charts from a saved run.
 */
import { readFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/app-process.js';
import { stopEverything, stopOnSignals } from './lifecycle.js';
import type { BenchResults } from './report/bench-results.js';
import { tableRows } from './report/table.js';
import { writeReport } from './report/write-report.js';
import { measureDeliveries, type DeliveriesResult } from './scenarios/deliveries.js';
import { measureNewLogins, type NewLoginsPlan } from './scenarios/new-logins.js';
import { measureWaitingBrowsers, type WaitingPlan } from './scenarios/waiting-browsers.js';
import { measureWebhook } from './scenarios/webhook-throughput.js';

/** The sizes of one run. */
interface Plan {
  newLogins: NewLoginsPlan;
  slowApiMs: number;
  waiting: WaitingPlan;
  webhook: { tickets: number; inFlight: number };
  deliveries: { gateways: number[]; browsers: number; rate: number };
}

/** Issue 10's sizes: 1,000 scans/s with ≥ 6,000 waiting, 5,000 and 15,000 waiting sockets, 1–8 gateways. */
const FULL: Plan = {
  newLogins: { durationMs: 8_000, concurrency: 32 },
  slowApiMs: 80,
  waiting: {
    memoryAt: [5_000, 15_000],
    crowded: { rate: 1_000, scans: 2_000, waiting: 15_000 },
    sweep: [
      { rate: 250, scans: 500, waiting: 6_000 },
      { rate: 500, scans: 1_000, waiting: 6_000 },
      { rate: 1_000, scans: 3_000, waiting: 6_000 },
    ],
    // One webhook process tops out near 1,000 events/s here (the webhook row), so 1,000 scans/s get two, as
    // deploy/README's sizing would.
    webhooks: 2,
  },
  webhook: { tickets: 3_000, inFlight: 32 },
  deliveries: { gateways: [1, 2, 4, 8], browsers: 200, rate: 200 },
};

/** The same scenarios, small enough for about a minute. */
const QUICK: Plan = {
  newLogins: { durationMs: 2_000, concurrency: 16 },
  slowApiMs: 80,
  waiting: {
    memoryAt: [200, 500],
    crowded: { rate: 200, scans: 200, waiting: 500 },
    sweep: [
      { rate: 100, scans: 100, waiting: 200 },
      { rate: 200, scans: 200, waiting: 200 },
    ],
  },
  webhook: { tickets: 300, inFlight: 16 },
  deliveries: { gateways: [1, 2, 4, 8], browsers: 16, rate: 100 },
};

function parseArgs(argv: string[]): { quick: boolean; out: string; render: string | undefined } {
  let quick = false;
  let out = join(REPO_ROOT, 'bench/results');
  let render: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--out' && argv[i + 1] !== undefined) out = argv[++i]!;
    else if (arg === '--render' && argv[i + 1] !== undefined) render = argv[++i]!;
    else throw new Error(`unknown argument ${arg}; use --quick, --out <dir>, --render <file.json>`);
  }
  return { quick, out, render };
}

/** A saved run; JSON wrote figures that do not apply (NaN) as null. */
async function loadResults(file: string): Promise<BenchResults> {
  return JSON.parse(await readFile(file, 'utf8'), (_key, value: unknown) => (value === null ? Number.NaN : value)) as BenchResults;
}

/**
 * Run a scenario, once more if it fails: on a machine shared with other work a start-up can miss its
 * deadline. A second failure ends the run (everything started is stopped either way).
 */
async function twice<T>(what: string, measure: () => Promise<T>): Promise<T> {
  try {
    return await measure();
  } catch (error) {
    say(`${what} failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); once more`);
    return measure();
  }
}

const say = (text: string): void => void process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${text}\n`);

async function main(): Promise<void> {
  const { quick, out, render } = parseArgs(process.argv.slice(2));
  if (render !== undefined) {
    process.stdout.write(`wrote ${(await writeReport(out, await loadResults(render))).join(', ')}\n`);
    return;
  }
  const plan = quick ? QUICK : FULL;
  stopOnSignals();
  const startedAt = new Date().toISOString();
  const machine = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', loadAverageAtStart: loadavg() };

  say('new logins/s: qrgate, API at 0 ms');
  const nl = await twice('new logins', () => measureNewLogins('qrgate', 0, plan.newLogins));
  say(`new logins/s: qrgate, API at ${plan.slowApiMs} ms`);
  const nl80 = await twice('new logins', () => measureNewLogins('qrgate', plan.slowApiMs, plan.newLogins));
  say('new logins/s: floor');
  const nlf = await twice('new logins', () => measureNewLogins('floor', 0, plan.newLogins));
  say('new logins/s: stack floor (Socket.IO + the WeChat call + one Redis write)');
  const nls = await twice('new logins', () => measureNewLogins('stack', 0, plan.newLogins));
  for (const r of [nl, nl80, nlf, nls])
    say(`  ${r.kind} (API ${r.apiLatencyMs} ms): ${r.perSecond.toFixed(0)}/s, time to QR p99 ${r.p99Ms.toFixed(0)} ms, ${r.failed} failed`);

  say(`waiting browsers (memory at ${plan.waiting.memoryAt.join(', ')}; scans): qrgate`);
  const wq = await twice('waiting browsers', () => measureWaitingBrowsers('qrgate', plan.waiting));
  say('waiting browsers: floor');
  const wf = await twice('waiting browsers', () => measureWaitingBrowsers('floor', plan.waiting));
  for (const w of [wq, wf]) {
    const top = w.sweep[w.sweep.length - 1];
    say(
      `  ${w.kind}: ${w.memory.map((m) => `${m.perSocketKiB.toFixed(1)} KiB/socket at ${m.sockets}`).join(', ')}; p99 ${top?.p99Ms.toFixed(1)} ms at ${top?.rate}/s, lost ${top?.lost}`,
    );
  }

  say(`webhook events/s on ${plan.webhook.tickets} real tickets: qrgate, then floor`);
  const webhook = await twice('webhook', () => measureWebhook(plan.webhook.tickets, plan.webhook.inFlight));
  say(
    `  qrgate ${webhook.qrgatePerSecond.toFixed(0)}/s, floor ${webhook.floorPerSecond.toFixed(0)}/s, frameworks alone ${webhook.stackPerSecond.toFixed(0)}/s, ${webhook.loggedIn}/${webhook.tickets} logged in`,
  );

  const deliveries: { qrgate: DeliveriesResult[]; floor: DeliveriesResult[] } = { qrgate: [], floor: [] };
  for (const gateways of plan.deliveries.gateways) {
    say(`bus messages per scan with ${gateways} gateway(s): qrgate, then floor`);
    deliveries.qrgate.push(
      await twice('deliveries', () => measureDeliveries('qrgate', gateways, plan.deliveries.browsers, plan.deliveries.rate)),
    );
    deliveries.floor.push(
      await twice('deliveries', () => measureDeliveries('floor', gateways, plan.deliveries.browsers, plan.deliveries.rate)),
    );
  }

  const results: BenchResults = {
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine,
    newLogins: { qrgate: nl, qrgateSlowApi: nl80, floor: nlf, stack: nls },
    waiting: { qrgate: wq, floor: wf },
    webhook,
    deliveries,
  };
  const written = await writeReport(out, results);
  process.stdout.write('\n');
  for (const row of tableRows(results)) {
    process.stdout.write(
      `${row.met === null ? '   ' : row.met ? 'ok ' : 'NO '} ${row.figure}: ${row.qrgate} vs floor ${row.floor} (${row.ratio}; target ${row.target})\n`,
    );
  }
  process.stdout.write(`\nwrote ${written.join(', ')}\n`);
}

main()
  .catch(async (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopEverything();
  });
