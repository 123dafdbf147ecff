/**
 * `npm run bench`: runs the benchmarks and prints a report of the figures against their floor. Figures only;
 * nothing here passes or fails on speed.
 */
import { DELIVERY_FLOOR, measureDeliveries, type DeliveriesResult } from './deliveries.js';
import {
  LATENCY_FLOOR_P95_MS,
  POD_MEMORY_LIMIT_MIB,
  SOCKETS_PER_POD,
  measureLoginLatency,
  memoryFloorPerSocketKiB,
} from './login-latency.js';

const GATEWAY_COUNTS = [1, 2, 4];
const BROWSERS = 120;
const LATENCY_BROWSERS = 1000;

async function main(): Promise<void> {
  const results: DeliveriesResult[] = [];
  for (const gateways of GATEWAY_COUNTS) {
    process.stdout.write(`measuring deliveries with ${gateways} gateway(s)…\n`);
    results.push(await measureDeliveries(gateways, BROWSERS));
  }
  const rows = results.map((r) => [
    String(r.gateways),
    `${r.loggedIn}/${r.browsers}`,
    String(r.changes),
    String(r.busMessages),
    r.perChange.toFixed(3),
    (r.gateways * 1.0).toFixed(1),
  ]);
  const header = ['gateways', 'logged in', 'ticket changes', 'bus messages (sum)', 'per change', 'broadcast would be'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  process.stdout.write(
    [
      '',
      'Deliveries per scan (bus messages received by all gateways, per ticket change), Redis sharded pub/sub',
      `floor: ${DELIVERY_FLOOR.toFixed(1)} per ticket change, whatever the number of gateways`,
      '',
      line(header),
      line(widths.map((w) => '-'.repeat(w))),
      ...rows.map(line),
      '',
      results.every((r) => r.perChange === DELIVERY_FLOOR)
        ? `every configuration is at the floor (${DELIVERY_FLOOR.toFixed(1)})`
        : 'some configuration is above the floor: see "per change"',
      '',
    ].join('\n'),
  );

  process.stdout.write(`measuring scan-to-login latency and memory with ${LATENCY_BROWSERS} browsers…\n`);
  const latency = await measureLoginLatency(LATENCY_BROWSERS);
  const verdict = (value: number, floor: number): string => (value <= floor ? 'within' : 'ABOVE');
  const memoryFloor = memoryFloorPerSocketKiB(latency.baselineRssBytes);
  process.stdout.write(
    [
      '',
      'Scan-to-login latency (push reaches the webhook → browser holds `login`), one gateway + one webhook on Redis',
      `  logged in          ${latency.loggedIn}/${latency.browsers}`,
      `  p50                ${latency.p50Ms.toFixed(1)} ms`,
      `  p95                ${latency.p95Ms.toFixed(1)} ms   (floor ${LATENCY_FLOOR_P95_MS} ms: ${verdict(latency.p95Ms, LATENCY_FLOOR_P95_MS)})`,
      `  max                ${latency.maxMs.toFixed(1)} ms`,
      'Gateway memory per waiting browser (resident set growth / sockets)',
      `  idle gateway       ${(latency.baselineRssBytes / 1024 / 1024).toFixed(1)} MiB`,
      `  per socket         ${latency.rssPerSocketKiB.toFixed(1)} KiB   (floor ${memoryFloor.toFixed(1)} KiB = (${POD_MEMORY_LIMIT_MIB} MiB pod limit - idle) / ${SOCKETS_PER_POD} sockets: ${verdict(latency.rssPerSocketKiB, memoryFloor)})`,
      '',
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
