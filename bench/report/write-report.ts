/**
 * Writes one run's files: `<dir>/<date>.json` (everything measured), `<dir>/latest.md` (the table, the
 * details and the charts) and the three SVG charts the Markdown shows.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchResults } from './bench-results.js';
import { renderChart, type ChartSpec } from './svg-chart.js';
import { tableRows, type Row } from './table.js';

/** The chart files, named so each run replaces the previous one's (the JSON keeps every run). */
export const CHART_FILES = {
  latency: 'latency-vs-rate.svg',
  deliveries: 'deliveries-vs-gateways.svg',
  memory: 'memory-vs-sockets.svg',
} as const;

export function charts(r: BenchResults): Record<keyof typeof CHART_FILES, ChartSpec> {
  const sweep = (w: BenchResults['waiting']['qrgate'], p: 'p50Ms' | 'p99Ms'): Array<[number, number]> => w.sweep.map((s) => [s.rate, s[p]]);
  const perSocket = (w: BenchResults['waiting']['qrgate']): Array<[number, number]> => w.memory.map((m) => [m.sockets, m.perSocketKiB]);
  return {
    latency: {
      title: 'Scan → login latency against scan rate',
      xLabel: 'scans per second',
      yLabel: 'ms',
      series: [
        { name: 'qrgate p50', points: sweep(r.waiting.qrgate, 'p50Ms') },
        { name: 'qrgate p99', points: sweep(r.waiting.qrgate, 'p99Ms') },
        { name: 'floor p50', points: sweep(r.waiting.floor, 'p50Ms') },
        { name: 'floor p99', points: sweep(r.waiting.floor, 'p99Ms') },
      ],
    },
    deliveries: {
      title: 'Bus messages per scan against gateways',
      xLabel: 'gateways',
      yLabel: 'bus messages per ticket change',
      series: [
        { name: 'qrgate', points: r.deliveries.qrgate.map((d) => [d.gateways, d.perChange]) },
        { name: 'floor (redis-adapter)', points: r.deliveries.floor.map((d) => [d.gateways, d.perChange]) },
        { name: 'a broadcast bus', points: r.deliveries.qrgate.map((d) => [d.gateways, d.gateways]), dashed: true },
      ],
    },
    memory: {
      title: 'Resident memory per waiting browser',
      xLabel: 'waiting sockets on one gateway',
      yLabel: 'KiB per socket',
      series: [
        { name: 'qrgate', points: perSocket(r.waiting.qrgate) },
        { name: 'floor (bare Socket.IO)', points: perSocket(r.waiting.floor) },
      ],
    },
  };
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function markdownTable(rows: Row[]): string {
  const lines = ['| figure | qrgate | floor | ratio | target | met? |', '|---|---:|---:|---:|---|---|'];
  for (const row of rows) {
    const met = row.met === null ? '' : row.met ? 'yes' : '**no**';
    lines.push(`| ${cell(row.figure)} | ${cell(row.qrgate)} | ${cell(row.floor)} | ${cell(row.ratio)} | ${cell(row.target)} | ${met} |`);
  }
  return lines.join('\n');
}

export function renderMarkdown(r: BenchResults, jsonName: string): string {
  const stepLine = (s: BenchResults['waiting']['qrgate']['sweep'][number]): string =>
    `${s.rate}/s × ${s.scans} (≥ ${s.waiting} waiting): p50 ${s.p50Ms.toFixed(1)} ms, p99 ${s.p99Ms.toFixed(1)} ms, max ${s.maxMs.toFixed(1)} ms, lost ${s.lost}, duplicates ${s.duplicates}` +
    cpuLine(s.cpuMsPerScan ?? {}, s.scans, s.elapsedMs);
  return [
    `# qrgate benchmark${r.quick ? ' (--quick)' : ''}`,
    '',
    `Run ${r.startedAt} → ${r.finishedAt} on ${r.machine.cpus} × ${r.machine.cpuModel}, Node ${r.machine.node}, load average at start ${r.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(' / ')}. ` +
      `Every floor was measured in this run, on the same machine and Node (bench/floors/). Raw figures: [${jsonName}](${jsonName}). ` +
      'Targets are those of issue 10; they are reported, never asserted.',
    '',
    markdownTable(tableRows(r)),
    '',
    '## Charts',
    '',
    `![latency against rate](${CHART_FILES.latency})`,
    '',
    `![deliveries against gateways](${CHART_FILES.deliveries})`,
    '',
    `![memory against sockets](${CHART_FILES.memory})`,
    '',
    '## Details',
    '',
    `- New logins: ${r.newLogins.qrgate.inFlight} connections in flight from 2 client processes; qrgate ${r.newLogins.qrgate.completed} completed / ${r.newLogins.qrgate.failed} failed at 0 ms, ` +
      `${r.newLogins.qrgateSlowApi.completed} / ${r.newLogins.qrgateSlowApi.failed} at ${r.newLogins.qrgateSlowApi.apiLatencyMs} ms; floor ${r.newLogins.floor.completed} / ${r.newLogins.floor.failed}. ` +
      `p50 time to QR: qrgate ${r.newLogins.qrgate.p50Ms.toFixed(1)} ms, at ${r.newLogins.qrgateSlowApi.apiLatencyMs} ms ${r.newLogins.qrgateSlowApi.p50Ms.toFixed(1)} ms, floor ${r.newLogins.floor.p50Ms.toFixed(1)} ms.`,
    `- Waiting browsers, qrgate (idle gateway ${(r.waiting.qrgate.baselineRssBytes / 1048576).toFixed(1)} MiB, ${r.waiting.qrgate.connectFailures} connect failures, ` +
      `${r.waiting.qrgate.webhooks ?? 1} webhook process(es), pushes round-robin):`,
    ...[r.waiting.qrgate.crowded, ...r.waiting.qrgate.sweep].map((s) => `  - ${stepLine(s)}`),
    `- Waiting browsers, floor (idle server ${(r.waiting.floor.baselineRssBytes / 1048576).toFixed(1)} MiB, ${r.waiting.floor.connectFailures} connect failures):`,
    ...[r.waiting.floor.crowded, ...r.waiting.floor.sweep].map((s) => `  - ${stepLine(s)}`),
    `- Webhook: answers ${JSON.stringify(r.webhook.qrgateStatuses)}.`,
    `- Redis CPU (\`INFO cpu\`): qrgate ${r.newLogins.qrgate.redisCpuMsPerLogin.toFixed(3)} ms per new login, ${r.waiting.qrgate.redisCpuMsPerScan.toFixed(3)} ms per scan → login; ` +
      `floor ${r.waiting.floor.redisCpuMsPerScan.toFixed(3)} ms per delivered login. Redis memory per waiting browser: ` +
      r.waiting.qrgate.memory.map((m) => `${(m.redisBytesPerSocket / 1024).toFixed(2)} KiB at ${m.sockets}`).join(', ') +
      ' (qrgate).',
    "- Memory is the gateway's resident set (`/proc/<pid>/status` VmRSS, read from outside once settled) above the warmed-up idle process, divided by the waiting sockets. " +
      'At a few hundred sockets garbage collection moves RSS by more than the sockets take (a small or negative figure); the slope between the two counts is less sensitive: ' +
      (['qrgate', 'floor'] as const)
        .map((kind) => {
          const [lo, hi] = [r.waiting[kind].memory[0], r.waiting[kind].memory[r.waiting[kind].memory.length - 1]];
          const slope =
            lo === undefined || hi === undefined || hi.sockets === lo.sockets
              ? Number.NaN
              : (hi.rssBytes - lo.rssBytes) / (hi.sockets - lo.sockets) / 1024;
          return `${kind} ${slope.toFixed(1)} KiB per socket`;
        })
        .join(', ') +
      '.',
    '- Latency is push (or publish) sent → `login` received, wall clock of one machine across processes; pushes are open-loop at the rate.',
    "- qrgate's apps run with `LOG_LEVEL=warn`, so no line is logged per request; at the default `info` each push and each HTTP request writes one. " +
      'Every process, load generators included, shares the same cores: the CPU per scan above says how much of them each took.',
    '',
  ].join('\n');
}

/** Write the JSON, the Markdown and the charts into `dir`; returns the paths written. */
export async function writeReport(dir: string, r: BenchResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const jsonName = `${r.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}${r.quick ? '-quick' : ''}.json`;
  const written: string[] = [];
  const put = async (name: string, text: string): Promise<void> => {
    await writeFile(join(dir, name), text);
    written.push(join(dir, name));
  };
  await put(jsonName, `${JSON.stringify(r, null, 2)}\n`);
  const specs = charts(r);
  for (const key of Object.keys(CHART_FILES) as Array<keyof typeof CHART_FILES>) await put(CHART_FILES[key], renderChart(specs[key]));
  await put('latest.md', renderMarkdown(r, jsonName));
  return written;
}

/**
 * `; CPU per scan: webhook 1.02, gateway 0.20, … = 1.9 ms, 1.8 of the machine's cores on average`: what one
 * scan → login cost every process while the step ran, and how busy that kept the machine.
 */
function cpuLine(cpuMsPerScan: Record<string, number>, scans: number, elapsedMs: number | undefined): string {
  const roles = Object.entries(cpuMsPerScan).filter(([, ms]) => Number.isFinite(ms));
  if (roles.length === 0) return '';
  const total = roles.reduce((sum, [, ms]) => sum + ms, 0);
  const parts = roles.sort((a, b) => b[1] - a[1]).map(([role, ms]) => `${role} ${ms.toFixed(2)}`);
  const busy = elapsedMs === undefined || elapsedMs <= 0 ? '' : `, ${((total * scans) / elapsedMs).toFixed(2)} cores busy on average`;
  return `; CPU per scan: ${parts.join(', ')} = ${total.toFixed(2)} ms${busy}`;
}
