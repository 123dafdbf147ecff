/**
 * The benchmark's machinery, run on a tiny size so it cannot rot between runs of `npm run bench`: the SVG
 * writer, the report writer (JSON, Markdown table with targets, charts), the floor scripts starting,
 * answering and stopping, and a load-generator worker driving the Socket.IO floor. No performance is
 * asserted here; the targets are only reported by the bench.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { ClientPool } from '../../bench/client-pool.js';
import type { BenchResults } from '../../bench/report/bench-results.js';
import { percentile } from '../../bench/report/stats.js';
import { niceStep, renderChart } from '../../bench/report/svg-chart.js';
import { tableRows } from '../../bench/report/table.js';
import { CHART_FILES, writeReport } from '../../bench/report/write-report.js';
import { startFloor, startFloorProcess } from '../../bench/systems.js';

describe('bench statistics and charts', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([], 50)).toBeNaN();
  });

  it('draws one polyline per series with its finite points, and escapes text', () => {
    const svg = renderChart({
      title: 'p99 <ms> & rate',
      xLabel: 'scans/s',
      yLabel: 'ms',
      series: [
        {
          name: 'qrgate',
          points: [
            [250, 3],
            [1000, 12],
            [500, Number.NaN],
          ],
        },
        {
          name: 'floor',
          points: [
            [250, 1],
            [500, 1.5],
            [1000, 2],
          ],
          dashed: true,
        },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('p99 &lt;ms&gt; &amp; rate');
    const polylines = [...svg.matchAll(/<polyline class="series"[^>]* points="([^"]*)"/g)].map((m) => m[1]!.split(' ').length);
    expect(polylines).toEqual([2, 3]);
    expect(svg).toContain('stroke-dasharray');
    expect(niceStep(1000)).toBe(200);
    expect(niceStep(12)).toBe(5);
  });
});

/** A run's results, small and made up: the writers' input, not a measurement. */
function sampleResults(): BenchResults {
  const step = (rate: number, waiting: number, p99Ms: number, lost = 0) => ({
    rate,
    scans: rate,
    waiting,
    sent: rate,
    loggedIn: rate - lost,
    lost,
    duplicates: 0,
    p50Ms: p99Ms / 2,
    p99Ms,
    maxMs: p99Ms * 1.5,
    cpuMsPerScan: { webhook: 1, gateway: 0.25, redis: 0.25 },
    // `rate` scans sent in one second.
    elapsedMs: 1000,
  });
  const newLogins = (kind: 'qrgate' | 'floor' | 'stack', apiLatencyMs: number, perSecond: number) => ({
    kind,
    apiLatencyMs,
    inFlight: 32,
    perSecond,
    completed: perSecond * 8,
    failed: 0,
    p50Ms: 20,
    p99Ms: 90,
    redisCpuMsPerLogin: kind === 'floor' ? Number.NaN : 0.05,
  });
  const deliveries = (kind: 'qrgate' | 'floor', gateways: number) => ({
    kind,
    gateways,
    browsers: 10,
    changes: 10,
    busMessages: 10,
    perChange: 1,
    loggedIn: 10,
  });
  return {
    startedAt: '2026-12-01T21:00:00.000Z',
    finishedAt: '2026-12-01T21:10:00.000Z',
    quick: true,
    machine: { node: 'v20', cpus: 2, cpuModel: 'test cpu', loadAverageAtStart: [1, 1, 1] },
    newLogins: {
      qrgate: newLogins('qrgate', 0, 2000),
      qrgateSlowApi: newLogins('qrgate', 80, 1500),
      floor: newLogins('floor', 0, 2500),
      stack: newLogins('stack', 0, 2250),
    },
    waiting: {
      qrgate: {
        kind: 'qrgate',
        baselineRssBytes: 80 << 20,
        connectFailures: 0,
        webhooks: 2,
        redisCpuMsPerScan: 0.1,
        memory: [
          { sockets: 5000, rssBytes: 200 << 20, perSocketKiB: 24, redisBytesPerSocket: 3600 },
          { sockets: 15000, rssBytes: 420 << 20, perSocketKiB: 24, redisBytesPerSocket: 3600 },
        ],
        crowded: step(1000, 15000, 40),
        sweep: [step(250, 6000, 4), step(1000, 6000, 5)],
      },
      floor: {
        kind: 'floor',
        baselineRssBytes: 60 << 20,
        connectFailures: 0,
        webhooks: 0,
        redisCpuMsPerScan: 0.02,
        memory: [
          { sockets: 5000, rssBytes: 120 << 20, perSocketKiB: 12, redisBytesPerSocket: 200 },
          { sockets: 15000, rssBytes: 240 << 20, perSocketKiB: 12, redisBytesPerSocket: 200 },
        ],
        crowded: step(1000, 15000, 5),
        sweep: [step(250, 6000, 1), step(1000, 6000, 2)],
      },
    },
    webhook: {
      tickets: 1000,
      inFlight: 32,
      qrgatePerSecond: 3500,
      floorPerSecond: 5000,
      stackPerSecond: 4000,
      qrgateStatuses: { '200': 1000 },
      loggedIn: 1000,
    },
    deliveries: { qrgate: [1, 2].map((g) => deliveries('qrgate', g)), floor: [1, 2].map((g) => deliveries('floor', g)) },
  };
}

describe('bench report', () => {
  it('judges each target from the figures', () => {
    const rows = tableRows(sampleResults());
    const find = (start: string) => rows.find((row) => row.figure.startsWith(start));
    expect(find('new logins/s on one gateway')?.met).toBe(true); // 2,000 ≥ 1,500 and 0.8× ≥ 0.6×
    expect(find('new logins/s, API at 80 ms')?.met).toBe(false); // 1,500 is 75 % of 2,000
    expect(find('scan → `login` p99')?.met).toBe(true); // 5 ms ≤ 3 × 2 ms
    expect(find('RSS per waiting browser, 15,000')?.met).toBe(false); // 24 KiB is 2× the floor
    expect(find('RSS per waiting browser, 5,000')?.met).toBeNull();
    expect(find('webhook')?.met).toBe(true); // 3,500 ≥ 3,000 and 0.7× ≥ 0.35×
    expect(rows.filter((row) => row.figure.startsWith('bus messages per scan')).map((row) => row.met)).toEqual([true, true]);
    // The stack floors are reported next to the floor, never judged.
    const ioOnly = find('stack floor: Socket.IO doing only');
    expect([ioOnly?.qrgate, ioOnly?.floor, ioOnly?.ratio, ioOnly?.met]).toEqual(['2,250', '2,500', '×0.90', null]);
    const frameworks = find("stack floor: the webhook's frameworks alone");
    expect([frameworks?.qrgate, frameworks?.floor, frameworks?.ratio, frameworks?.met]).toEqual(['4,000', '5,000', '×0.80', null]);
  });

  it('leaves the stack floors out of a run from before they existed', () => {
    const results = sampleResults();
    delete results.newLogins.stack;
    (results.webhook as { stackPerSecond?: number }).stackPerSecond = Number.NaN;
    expect(tableRows(results).filter((row) => row.figure.startsWith('stack floor'))).toEqual([]);
  });

  it('writes the JSON, latest.md and the three charts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qrgate-bench-report-'));
    try {
      const results = sampleResults();
      await writeReport(dir, results);
      const files = (await readdir(dir)).sort();
      expect(files).toEqual(['2026-12-01T21-00-00Z-quick.json', ...Object.values(CHART_FILES), 'latest.md'].sort());
      // JSON has no NaN: a figure that does not apply (the floor's Redis CPU without Redis) is written as null.
      expect(JSON.parse(await readFile(join(dir, '2026-12-01T21-00-00Z-quick.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(results)));
      const md = await readFile(join(dir, 'latest.md'), 'utf8');
      expect(md).toContain('| figure | qrgate | floor | ratio | target | met? |');
      expect(md).toContain('| RSS per waiting browser, 15,000 waiting | 24.0 KiB | 12.0 KiB | ×2.00 | ≤ 1.3× floor | **no** |');
      // Each step's CPU per scan by process, and the cores that kept busy over its wall time.
      expect(md).toContain(
        '1000/s × 1000 (≥ 6000 waiting): p50 2.5 ms, p99 5.0 ms, max 7.5 ms, lost 0, duplicates 0; CPU per scan: webhook 1.00, gateway 0.25, redis 0.25 = 1.50 ms, 1.50 cores busy on average',
      );
      expect(md).toContain('2 webhook process(es)');
      for (const chart of Object.values(CHART_FILES)) {
        expect(md).toContain(`](${chart})`);
        expect(await readFile(join(dir, chart), 'utf8')).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bench floors and load generators', () => {
  it('the webhook floor reads the body and answers success, then stops', async () => {
    const floor = await startFloorProcess('http-floor');
    try {
      const body = '<xml><Event><![CDATA[SCAN]]></Event></xml>';
      const res = await fetch(`${floor.url}/wechat?signature=x`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('success');
      expect(await (await fetch(`${floor.url}/stats`)).json()).toEqual({ requests: 1, bytes: Buffer.byteLength(body) });
    } finally {
      expect(await floor.stop()).toBe(0);
    }
  });

  it("the webhook's stack floor hands a push to the wechat package and answers success", async () => {
    const floor = await startFloorProcess('koa-wechat-floor');
    try {
      const body =
        '<xml><ToUserName><![CDATA[gh_x]]></ToUserName><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event></xml>';
      const res = await fetch(`${floor.url}/wechat?signature=x`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('success');
      // A message the package does not hand to its event handler comes back and is answered all the same.
      const textMessage = '<xml><MsgType><![CDATA[text]]></MsgType></xml>';
      const text = await fetch(`${floor.url}/wechat`, { method: 'POST', body: textMessage });
      expect(await text.text()).toBe('success');
      // Both bodies were read; only the event reached the handler.
      expect(await (await fetch(`${floor.url}/stats`)).json()).toEqual({ requests: 1, bytes: Buffer.byteLength(body + textMessage) });
    } finally {
      expect(await floor.stop()).toBe(0);
    }
  });

  it('the stack floor for new logins calls qrcode/create before each ticket', async () => {
    const system = await startFloor({ servers: 1, redis: true, wechatApi: true });
    try {
      const socket = io(`${system.gateways[0]!.url}/login`, { transports: ['websocket'], forceNew: true, reconnection: false });
      const payload = await new Promise<{ ticket: string; qrUrl: string }>((resolve, reject) => {
        socket.once('ticket', resolve);
        socket.once('connect_error', reject);
      });
      socket.close();
      expect(payload.qrUrl).toMatch(/^http:\/\/weixin\.qq\.com\/q\//);
      expect(system.processes.map((p) => p.role).sort()).toEqual(['publisher', 'server', 'wechat-sim']);
    } finally {
      await system.stop();
    }
  });

  it('the Socket.IO floor gives each connection a ticket in its own room; a client worker holds sockets on it', async () => {
    const floor = await startFloorProcess('socketio-floor');
    const pool = await ClientPool.start(2);
    try {
      const socket = io(`${floor.url}/login`, { transports: ['websocket'], forceNew: true, reconnection: false });
      const payload = await new Promise<{ ticket: string }>((resolve, reject) => {
        socket.once('ticket', resolve);
        socket.once('connect_error', reject);
      });
      expect(payload.ticket).toMatch(/^[A-Za-z0-9_-]{22}$/);
      socket.close();
      const held = await pool.hold([floor.url], 6, 2);
      expect(held.failed).toBe(0);
      expect(new Set(held.tickets).size).toBe(6);
      expect(((await (await fetch(`${floor.url}/stats`)).json()) as { sockets: number }).sockets).toBe(6);
      await pool.closeAll();
    } finally {
      await pool.stop();
      expect(await floor.stop()).toBe(0);
    }
  });
});
