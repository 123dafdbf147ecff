/**
 * Waiting browsers on one gateway: resident memory per waiting socket as they pile up, then scan → `login`
 * latency at fixed scan rates while many browsers wait. qrgate: one gateway and one webhook on Redis, signed
 * pushes at the rate; floor: one bare Socket.IO server on the sharded Redis adapter, a headless publisher at
 * the rate. Latency is push sent → `login` received, across processes on one clock.
 */
import { ClientPool, workersFor } from '../client-pool.js';
import { withScope } from '../lifecycle.js';
import { cpuSeconds, idleCpu } from '../process-cpu.js';
import { residentBytes, settledResidentBytes } from '../process-memory.js';
import { percentile } from '../report/stats.js';
import { startFloor, startQrgate, type System } from '../systems.js';

export interface ScanStepPlan {
  rate: number;
  scans: number;
  /** Browsers still waiting when the step's last scan is sent. */
  waiting: number;
}

export interface WaitingPlan {
  /** Socket counts at which resident memory is read, ascending. */
  memoryAt: number[];
  /** First measured at the largest memory count (the "15,000 waiting" row), then the rate sweep. */
  crowded: ScanStepPlan;
  sweep: ScanStepPlan[];
  /** qrgate's webhook processes (the pushes go round-robin). Default 1. */
  webhooks?: number;
}

export interface MemoryPoint {
  sockets: number;
  rssBytes: number;
  perSocketKiB: number;
  /** Redis data memory per waiting browser (its ticket, its channel), bytes. */
  redisBytesPerSocket: number;
}

export interface ScanStep extends ScanStepPlan {
  sent: number;
  loggedIn: number;
  /** Scans that got no `login` within the timeout (or whose push was refused). */
  lost: number;
  duplicates: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * CPU per scan by role while the step ran (pushes sent → last login in), ms: the system's processes, Redis,
   * and the browsers' workers. On one machine every role draws on the same cores.
   */
  cpuMsPerScan: Record<string, number>;
  /** Wall time of the step, first push sent → last login in, ms. */
  elapsedMs: number;
}

export interface WaitingResult {
  kind: 'qrgate' | 'floor';
  baselineRssBytes: number;
  memory: MemoryPoint[];
  crowded: ScanStep;
  sweep: ScanStep[];
  /** Sockets that failed to connect over the run. */
  connectFailures: number;
  /** qrgate's webhook processes (0 for the floor). */
  webhooks: number;
  /** Redis CPU per scan over the sweep, ms (qrgate: the whole scan → login path; floor: publish + delivery). */
  redisCpuMsPerScan: number;
}

const LOGIN_TIMEOUT_MS = 20_000;

/** The unmeasured scans before the first figure: two seconds at a fifth of the top rate. */
const WARM_UP = { rate: 200, scans: 400 };

/** CPU seconds used so far by each role of `system`, Redis and the browsers' workers included. */
async function cpuByRole(system: System, pool: ClientPool): Promise<Record<string, number>> {
  const processes = [...system.processes, ...pool.pids.map((pid) => ({ role: 'browsers', pid }))];
  const seconds: Record<string, number> = { redis: await system.redisCpuSeconds() };
  for (const { role, pid } of processes) seconds[role] = (seconds[role] ?? 0) + (await cpuSeconds(pid));
  return seconds;
}

async function scanStep(system: System, pool: ClientPool, tickets: string[], plan: ScanStepPlan): Promise<ScanStep> {
  const cpuBefore = await cpuByRole(system, pool);
  const started = performance.now();
  const pushed = await system.scan(tickets, plan.rate);
  const arrived = await pool.logins(tickets, LOGIN_TIMEOUT_MS);
  const elapsedMs = performance.now() - started;
  const cpuAfter = await cpuByRole(system, pool);
  const cpuMsPerScan = Object.fromEntries(
    Object.keys(cpuAfter)
      .filter((role) => Number.isFinite(cpuAfter[role]))
      .map((role) => [role, (((cpuAfter[role] ?? 0) - (cpuBefore[role] ?? 0)) * 1000) / tickets.length]),
  );
  const sentAt = new Map(pushed.sent);
  const latencies = arrived.arrivals.flatMap(([ticket, at]) => {
    const sent = sentAt.get(ticket);
    return sent === undefined ? [] : [at - sent];
  });
  await pool.release(tickets);
  // Those sockets close now; the next step starts once the server has finished with them.
  await Promise.all(system.gateways.map((gateway) => idleCpu(gateway.pid)));
  return {
    ...plan,
    sent: pushed.sent.length,
    loggedIn: arrived.arrivals.length,
    lost: tickets.length - arrived.arrivals.length,
    duplicates: arrived.duplicates,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.length === 0 ? Number.NaN : Math.max(...latencies),
    cpuMsPerScan,
    elapsedMs,
  };
}

export async function measureWaitingBrowsers(kind: 'qrgate' | 'floor', plan: WaitingPlan): Promise<WaitingResult> {
  return withScope(async (defer) => {
    const system =
      kind === 'qrgate' ? await startQrgate({ gateways: 1, webhooks: plan.webhooks ?? 1 }) : await startFloor({ servers: 1, redis: true });
    defer(system.stop);
    const gateway = system.gateways[0]!;
    const most = plan.memoryAt[plan.memoryAt.length - 1]!;
    const pool = await ClientPool.start(workersFor(most + plan.crowded.scans));
    defer(pool.stop);
    const concurrency = 16;
    let connectFailures = 0;
    // Warm up the JIT, the token cache and the connection pools; none of it is measured. Long enough for the
    // optimising compiler: with 50 scans, the first second of a 1,000/s step ran on cold code and queued ~3 s.
    const warm = await pool.hold([gateway.url], WARM_UP.scans, concurrency);
    await scanStep(system, pool, warm.tickets, { ...WARM_UP, waiting: 0 });
    const baselineRssBytes = await settledResidentBytes(gateway.pid);
    const baselineRedisBytes = await system.redisUsedMemory();
    const waiting: string[] = [];
    const memory: MemoryPoint[] = [];
    for (const sockets of plan.memoryAt) {
      const opened = await pool.hold([gateway.url], sockets - waiting.length, concurrency);
      waiting.push(...opened.tickets);
      connectFailures += opened.failed;
      const rssBytes = await settledResidentBytes(gateway.pid);
      const redisBytesPerSocket = ((await system.redisUsedMemory()) - baselineRedisBytes) / waiting.length;
      memory.push({
        sockets: waiting.length,
        rssBytes,
        perSocketKiB: (rssBytes - baselineRssBytes) / waiting.length / 1024,
        redisBytesPerSocket,
      });
    }
    // The crowded row: scans on top of the largest crowd, which keeps waiting throughout.
    const extra = await pool.hold([gateway.url], plan.crowded.scans, concurrency);
    connectFailures += extra.failed;
    const crowded = await scanStep(system, pool, extra.tickets, { ...plan.crowded, waiting: waiting.length });
    // The sweep: keep just enough waiting that `waiting` remain when each step's last scan is sent.
    const sweepScans = plan.sweep.reduce((n, step) => n + step.scans, 0);
    const keep = (plan.sweep[plan.sweep.length - 1]?.waiting ?? 0) + sweepScans;
    if (waiting.length > keep) await pool.release(waiting.splice(keep));
    await idleCpu(gateway.pid);
    const sweep: ScanStep[] = [];
    const cpuBefore = await system.redisCpuSeconds();
    for (const step of plan.sweep) {
      const tickets = waiting.splice(0, step.scans);
      sweep.push(await scanStep(system, pool, tickets, { ...step, waiting: waiting.length }));
    }
    const cpuAfter = await system.redisCpuSeconds();
    // Checked while everything still runs: the gateway must still be alive for its figures to mean anything.
    await residentBytes(gateway.pid);
    return {
      kind,
      baselineRssBytes,
      memory,
      crowded,
      sweep,
      connectFailures,
      webhooks: kind === 'qrgate' ? (plan.webhooks ?? 1) : 0,
      redisCpuMsPerScan: ((cpuAfter - cpuBefore) * 1000) / sweepScans,
    };
  });
}
