/**
 * Scan-to-login latency and memory per waiting socket on one gateway process on Redis: how long from WeChat's
 * push reaching the webhook until the browser holds its `login` event, and how much resident memory each idle
 * browser connection costs the gateway. Figures for the report; nothing asserts on them.
 */
import { mapLimit, pushScan, startScaleCluster } from '../support/cluster.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scrapeMetric } from '../support/metrics.js';
import { startRedisServer } from '../support/redis-server.js';

/** p95 a scanner should never notice (the phone's own round trip to WeChat is slower). */
export const LATENCY_FLOOR_P95_MS = 100;
/**
 * The Kubernetes sizing (deploy/README.md, deploy/k8s/base/gateway.yaml): up to 5,000 sockets per gateway pod
 * within its 512 MiB memory limit. Whatever the idle process itself takes is not available to sockets, so the
 * floor per socket is (limit - measured baseline) / 5,000.
 */
export const POD_MEMORY_LIMIT_MIB = 512;
export const SOCKETS_PER_POD = 5_000;

export const memoryFloorPerSocketKiB = (baselineBytes: number): number =>
  (POD_MEMORY_LIMIT_MIB * 1024 * 1024 - baselineBytes) / SOCKETS_PER_POD / 1024;

export interface LoginLatencyResult {
  browsers: number;
  loggedIn: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  /** Resident memory the gateway grew by per connected idle browser, KiB. */
  rssPerSocketKiB: number;
  /** Resident memory of the warmed-up gateway before the browsers connected, bytes. */
  baselineRssBytes: number;
}

const RSS = 'process_resident_memory_bytes';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * One gateway and one webhook on a private Redis; `browsers` browsers connect (memory measured before and
 * after), then each is scanned one at a time so every measurement is a lone login, not a queue.
 */
export async function measureLoginLatency(browsers: number): Promise<LoginLatencyResult> {
  const redis = await startRedisServer();
  const opened: LoginBrowser[] = [];
  try {
    const cluster = await startScaleCluster({ gateways: 1, webhooks: 1, engineEnv: { REDIS_URL: redis.url } });
    try {
      const gateway = cluster.gateways[0]!.url;
      const webhook = `${cluster.webhooks[0]!.url}/wechat`;
      // Warm up the token cache, the JIT and the connection pools before measuring anything.
      const warm = await LoginBrowser.open(gateway);
      opened.push(warm);
      await pushScan(webhook, { scene: warm.ticket.ticket, openid: 'o_bench_warm' });
      await warm.waitFor('login');
      const rssBefore = await scrapeMetric(gateway, RSS);
      opened.push(...(await mapLimit(Array.from({ length: browsers }, (_, i) => i), 25, () => LoginBrowser.open(gateway))));
      const rssAfter = await scrapeMetric(gateway, RSS);
      const latencies: number[] = [];
      let loggedIn = 0;
      for (const [i, browser] of opened.slice(1).entries()) {
        const started = performance.now();
        const pushed = await pushScan(webhook, { scene: browser.ticket.ticket, openid: `o_bench_${i}` });
        if (pushed.status !== 200) throw new Error(`push answered ${pushed.status}`);
        await browser.waitFor('login', undefined, 10_000);
        latencies.push(performance.now() - started);
        loggedIn += 1;
      }
      latencies.sort((a, b) => a - b);
      return {
        browsers,
        loggedIn,
        p50Ms: percentile(latencies, 50),
        p95Ms: percentile(latencies, 95),
        maxMs: latencies[latencies.length - 1] ?? Number.NaN,
        rssPerSocketKiB: (rssAfter - rssBefore) / browsers / 1024,
        baselineRssBytes: rssBefore,
      };
    } finally {
      for (const browser of opened) browser.close();
      await cluster.stop();
    }
  } finally {
    await redis.stop();
  }
}
