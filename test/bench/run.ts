/**
 * `npm run bench`: runs the benchmarks and prints a report of the figures against their floor. Figures only;
 * nothing here passes or fails on speed.
 */
import { DELIVERY_FLOOR, measureDeliveries, type DeliveriesResult } from './deliveries.js';

const GATEWAY_COUNTS = [1, 2, 4];
const BROWSERS = 120;

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
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
