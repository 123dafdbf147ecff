/**
 * The report's rows, one per figure of issue 10's table: qrgate, its floor from the same run, the ratio,
 * the issue's target and whether it is met. Targets are reported here, never asserted anywhere.
 */
import type { BenchResults } from './bench-results.js';
import { ratio } from './stats.js';

export interface Row {
  figure: string;
  qrgate: string;
  floor: string;
  ratio: string;
  target: string;
  /** null: the figure has no target of its own. */
  met: boolean | null;
}

const n0 = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');
const n1 = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
const n2 = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');
const ms = (v: number): string => (!Number.isFinite(v) ? 'n/a' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(1)} ms`);
const times = (v: number): string => (Number.isFinite(v) ? `×${v >= 10 ? v.toFixed(0) : v.toFixed(2)}` : 'n/a');
const count = (v: number): string => v.toLocaleString('en-US');

export function tableRows(r: BenchResults): Row[] {
  const rows: Row[] = [];
  const { qrgate: nl, qrgateSlowApi: nl80, floor: nlf } = r.newLogins;
  const loginRatio = ratio(nl.perSecond, nlf.perSecond);
  rows.push({
    figure: `new logins/s on one gateway (connect → \`ticket\`), API at 0 ms, ${nl.inFlight} in flight`,
    qrgate: n0(nl.perSecond),
    floor: n0(nlf.perSecond),
    ratio: times(loginRatio),
    target: '≥ 1,500 and ≥ 0.6× floor',
    met: nl.perSecond >= 1500 && loginRatio >= 0.6,
  });
  const stack = r.newLogins.stack;
  if (stack !== undefined) {
    // The ceiling the required I/O sets: in the qrgate column, what Socket.IO reaches doing only that.
    rows.push({
      figure:
        'stack floor: Socket.IO doing only the I/O a login needs (one `qrcode/create` call, one Redis SET, the Redis adapter), in the qrgate column',
      qrgate: n0(stack.perSecond),
      floor: n0(nlf.perSecond),
      ratio: times(ratio(stack.perSecond, nlf.perSecond)),
      target: '—',
      met: null,
    });
  }
  const slowShare = ratio(nl80.perSecond, nl.perSecond);
  rows.push({
    figure: `new logins/s, API at ${nl80.apiLatencyMs} ms (share of the 0 ms rate in the ratio column)`,
    qrgate: n0(nl80.perSecond),
    floor: n0(nlf.perSecond),
    ratio: Number.isFinite(slowShare) ? `${(slowShare * 100).toFixed(0)} %` : 'n/a',
    target: '≥ 90 % of the 0 ms rate',
    met: slowShare >= 0.9,
  });
  rows.push({
    figure: 'time to QR at that load (API 0 ms), p99',
    qrgate: ms(nl.p99Ms),
    floor: ms(nlf.p99Ms),
    ratio: times(ratio(nl.p99Ms, nlf.p99Ms)),
    target: '—',
    met: null,
  });
  rows.push({
    figure: `time to QR at that load (API ${nl80.apiLatencyMs} ms), p99`,
    qrgate: ms(nl80.p99Ms),
    floor: ms(nlf.p99Ms),
    ratio: times(ratio(nl80.p99Ms, nlf.p99Ms)),
    target: '—',
    met: null,
  });
  const wq = r.waiting.qrgate;
  const wf = r.waiting.floor;
  const top = wq.sweep[wq.sweep.length - 1];
  const topFloor = wf.sweep[wf.sweep.length - 1];
  if (top !== undefined && topFloor !== undefined) {
    const webhooks = wq.webhooks ?? 1;
    const where = `at ${count(top.rate)} scans/s, ≥ ${count(top.waiting)} waiting, ${webhooks} webhook${webhooks === 1 ? '' : 's'}`;
    rows.push({
      figure: `scan → \`login\` p50 ${where}`,
      qrgate: ms(top.p50Ms),
      floor: ms(topFloor.p50Ms),
      ratio: times(ratio(top.p50Ms, topFloor.p50Ms)),
      target: '—',
      met: null,
    });
    const p99Ratio = ratio(top.p99Ms, topFloor.p99Ms);
    rows.push({
      figure: `scan → \`login\` p99 ${where} (lost: qrgate ${top.lost}, floor ${topFloor.lost})`,
      qrgate: ms(top.p99Ms),
      floor: ms(topFloor.p99Ms),
      ratio: times(p99Ratio),
      target: '≤ 3× floor, nothing lost',
      met: p99Ratio <= 3 && top.lost === 0 && top.duplicates === 0,
    });
  }
  const c = wq.crowded;
  const cf = wf.crowded;
  rows.push({
    figure: `same at ${count(c.rate)} scans/s with ${count(c.waiting)} waiting, p50 / p99 (lost: qrgate ${c.lost}, floor ${cf.lost})`,
    qrgate: `${ms(c.p50Ms)} / ${ms(c.p99Ms)}`,
    floor: `${ms(cf.p50Ms)} / ${ms(cf.p99Ms)}`,
    ratio: times(ratio(c.p99Ms, cf.p99Ms)),
    target: '—',
    met: null,
  });
  wq.memory.forEach((point, i) => {
    const floorPoint = wf.memory[i];
    const last = i === wq.memory.length - 1;
    const memRatio = ratio(point.perSocketKiB, floorPoint?.perSocketKiB ?? Number.NaN);
    rows.push({
      figure: `RSS per waiting browser, ${count(point.sockets)} waiting`,
      qrgate: `${n1(point.perSocketKiB)} KiB`,
      floor: `${n1(floorPoint?.perSocketKiB ?? Number.NaN)} KiB`,
      ratio: times(memRatio),
      target: last ? '≤ 1.3× floor' : '—',
      met: last ? memRatio <= 1.3 : null,
    });
  });
  const w = r.webhook;
  const hookRatio = ratio(w.qrgatePerSecond, w.floorPerSecond);
  rows.push({
    figure: `webhook signed events/s, plaintext, real tickets (${count(w.tickets)} scans, ${w.inFlight} in flight, ${count(w.loggedIn)} logged in)`,
    qrgate: n0(w.qrgatePerSecond),
    floor: n0(w.floorPerSecond),
    ratio: times(hookRatio),
    target: '≥ 3,000 and ≥ 0.35× floor',
    met: w.qrgatePerSecond >= 3000 && hookRatio >= 0.35 && w.loggedIn === w.tickets,
  });
  if (Number.isFinite(w.stackPerSecond)) {
    // The ceiling the frameworks set: in the qrgate column, what they reach with nothing of ours on top.
    rows.push({
      figure:
        "stack floor: the webhook's frameworks alone on the same requests (Koa, @koa/router, the `wechat` package; no Redis, nothing of ours), in the qrgate column",
      qrgate: n0(w.stackPerSecond),
      floor: n0(w.floorPerSecond),
      ratio: times(ratio(w.stackPerSecond, w.floorPerSecond)),
      target: '—',
      met: null,
    });
  }
  for (const d of r.deliveries.qrgate) {
    const floor = r.deliveries.floor.find((f) => f.gateways === d.gateways);
    rows.push({
      figure: `bus messages per scan, ${d.gateways} gateway${d.gateways === 1 ? '' : 's'} (${d.loggedIn}/${d.browsers} logged in)`,
      qrgate: n2(d.perChange),
      floor: n2(floor?.perChange ?? Number.NaN),
      ratio: times(ratio(d.perChange, floor?.perChange ?? Number.NaN)),
      target: '1.0',
      met: Math.abs(d.perChange - 1) < 1e-9 && d.loggedIn === d.browsers,
    });
  }
  return rows;
}
