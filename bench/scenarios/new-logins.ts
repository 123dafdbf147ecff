/**
 * New logins per second on one gateway: browsers connect, wait for their first `ticket` (for qrgate, a fresh
 * ticket with its QR code from WeChat's API) and disconnect, with a fixed number in flight, as fast as the
 * gateway answers. Reports the rate and the time to QR (connect → `ticket`) at that load.
 */
import { ClientPool } from '../client-pool.js';
import { withScope } from '../lifecycle.js';
import { percentile } from '../report/stats.js';
import { startFloor, startQrgate } from '../systems.js';

export interface NewLoginsPlan {
  /** Measured window, ms (after a warm-up of a quarter of it). */
  durationMs: number;
  /** Connections in flight per client worker (two workers). */
  concurrency: number;
}

/**
 * qrgate; the bare Socket.IO floor; or the stack floor: the same server on the Redis adapter making the I/O
 * a login cannot do without (one `qrcode/create` call to the simulator, one Redis SET) and nothing else.
 */
export type NewLoginsKind = 'qrgate' | 'floor' | 'stack';

export interface NewLoginsResult {
  kind: NewLoginsKind;
  /** The simulated WeChat API's latency (qrgate), ms. */
  apiLatencyMs: number;
  inFlight: number;
  perSecond: number;
  completed: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  /** Redis CPU per new login during the measured window, ms (NaN for the bare floor, which has no Redis). */
  redisCpuMsPerLogin: number;
}

export async function measureNewLogins(kind: NewLoginsKind, apiLatencyMs: number, plan: NewLoginsPlan): Promise<NewLoginsResult> {
  return withScope(async (defer) => {
    const system =
      kind === 'qrgate'
        ? await startQrgate({ gateways: 1, webhooks: 0, apiLatencyMs })
        : await startFloor({ servers: 1, redis: kind === 'stack', wechatApi: kind === 'stack' });
    defer(system.stop);
    const pool = await ClientPool.start(2);
    defer(pool.stop);
    const url = system.gateways[0]!.url;
    await pool.churn(url, Math.max(500, plan.durationMs / 4), plan.concurrency);
    const cpuBefore = await system.redisCpuSeconds();
    const run = await pool.churn(url, plan.durationMs, plan.concurrency);
    const cpuAfter = await system.redisCpuSeconds();
    return {
      kind,
      apiLatencyMs,
      inFlight: plan.concurrency * pool.size,
      perSecond: run.completed / (run.elapsedMs / 1000),
      completed: run.completed,
      failed: run.failed,
      p50Ms: percentile(run.latenciesMs, 50),
      p99Ms: percentile(run.latenciesMs, 99),
      redisCpuMsPerLogin: ((cpuAfter - cpuBefore) * 1000) / run.completed,
    };
  });
}
