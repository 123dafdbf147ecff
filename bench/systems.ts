/**
 * The two systems every figure compares, started the same way and driven through one interface: qrgate
 * (private Redis, the simulator as WeChat's API, N gateway and M webhook processes, scans pushed by a
 * scan-pusher worker) and its floor (bare Socket.IO servers, on the sharded Redis adapter when deliveries
 * are measured, logins published by a headless publisher). Everything is a separate process.
 */
import { join } from 'node:path';
import { LOAD_FROM_ONE_ADDRESS, SCALE_CREDENTIALS } from '../test/support/cluster.js';
import {
  REPO_ROOT,
  freePort,
  spawnTracked,
  startApp,
  waitUntilAnswers,
  type AppProcess,
  type Spawned,
} from '../test/support/app-process.js';
import { BUS_MESSAGES_RECEIVED, TICKETS_SCANNED, sumMetric } from '../test/support/metrics.js';
import { startRedisServer } from '../test/support/redis-server.js';
import { generateKeyPairSync } from 'node:crypto';
import { Redis } from 'ioredis';
import { track } from './lifecycle.js';
import type { PushResult } from './workers/scan-pusher.js';
import { startWorker, type Worker } from './workers/worker-protocol.js';

/** A connection that reads Redis's own CPU counters, the figure Redis sizing rests on. */
function redisCpuReader(url: string): { read(): Promise<number>; usedMemory(): Promise<number>; close(): Promise<void> } {
  const client = new Redis(url, { lazyConnect: true });
  client.on('error', (error: Error) => process.stderr.write(`bench redis: ${error.message}\n`));
  return {
    async read() {
      const info = await client.info('cpu');
      const field = (name: string): number => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1] ?? Number.NaN);
      return field('used_cpu_user') + field('used_cpu_sys');
    },
    async usedMemory() {
      const info = await client.info('memory');
      return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
    },
    async close() {
      client.disconnect();
    },
  };
}

/** Start attempts per app: startApp gives each 20 s, which a loaded shared machine can miss. */
const START_ATTEMPTS = 3;

/** Run `start` until it succeeds (a failed attempt has already stopped its process), at most 3 times. */
async function startWithRetries(start: () => Promise<AppProcess>): Promise<AppProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= START_ATTEMPTS) throw error;
      process.stderr.write(`an app did not start (attempt ${attempt}/${START_ATTEMPTS}), retrying\n`);
    }
  }
}

/** Compiled bench scripts live under dist/bench/. */
export const benchScript = (relative: string): string => join(REPO_ROOT, 'dist/bench', relative);

/** One process that browsers connect to. */
export interface Gateway {
  url: string;
  pid: number;
}

/** A running qrgate or floor. */
export interface System {
  readonly kind: 'qrgate' | 'floor';
  readonly gateways: Gateway[];
  /** Every process of the system but Redis (read through `redisCpuSeconds`), by role: whose CPU a scan costs. */
  readonly processes: Array<{ role: string; pid: number }>;
  /** Deliver one login per ticket at `rate` per second: signed pushes round-robin over the webhooks, or floor publishes. */
  scan(tickets: string[], rate: number): Promise<PushResult>;
  /** Bus messages received so far, summed over the gateways. */
  busMessages(): Promise<number>;
  /** Ticket changes made so far (qrgate: the webhooks' scanned counter; floor: publishes). */
  changes(): Promise<number>;
  /** CPU time Redis has used so far (`INFO cpu`, user + system), seconds; NaN without Redis. */
  redisCpuSeconds(): Promise<number>;
  /** Memory Redis holds for data (`INFO memory` used_memory), bytes; NaN without Redis. */
  redisUsedMemory(): Promise<number>;
  /** Stop every process of this system. Safe to call twice. */
  stop(): Promise<void>;
}

export interface QrgateOptions {
  gateways: number;
  webhooks: number;
  /** The simulated WeChat API's latency, ms. Default 0. */
  apiLatencyMs?: number;
}

/** WeChat's QR ticket of every live code, by scene, from the simulator (which is WeChat here and made them). */
async function simQrTickets(simUrl: string): Promise<Record<string, string>> {
  const res = await fetch(`${simUrl}/sim/api/codes`);
  if (!res.ok) throw new Error(`the simulator did not list its codes: ${res.status}`);
  const codes = (await res.json()) as Array<{ scene: string; qrTicket: string }>;
  return Object.fromEntries(codes.map((c) => [c.scene, c.qrTicket]));
}

/** Start qrgate on a private Redis. On failure, whatever started is stopped before the error is thrown. */
export async function startQrgate(
  options: QrgateOptions,
): Promise<System & { webhookUrls: string[]; token: string; qrTickets(): Promise<Record<string, string>> }> {
  const stops: Array<() => Promise<unknown>> = [];
  const stop = track(async () => {
    for (const s of stops.reverse()) await s();
  });
  try {
    const redis = await startRedisServer();
    stops.push(() => redis.stop());
    const cpu = redisCpuReader(redis.url);
    stops.push(() => cpu.close());
    const apps: AppProcess[] = [];
    stops.push(() => Promise.all(apps.map((app) => app.stop('SIGTERM', 10_000))));
    const launch = async (launches: Promise<AppProcess>[]): Promise<AppProcess[]> => {
      const settled = await Promise.allSettled(launches);
      for (const outcome of settled) if (outcome.status === 'fulfilled') apps.push(outcome.value);
      const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      return settled.map((outcome) => (outcome as PromiseFulfilledResult<AppProcess>).value);
    };
    const webhookPorts = await Promise.all(Array.from({ length: options.webhooks }, () => freePort()));
    const [sim] = await launch([
      startApp('wechat-sim', {
        ...SCALE_CREDENTIALS,
        WEBHOOK_URL: `http://127.0.0.1:${webhookPorts[0] ?? 9}/wechat`,
        SIM_API_LATENCY_MS: String(options.apiLatencyMs ?? 0),
      }),
    ]);
    // As in production for a load from one address: rate limits out of the way, tickets outlive the run.
    const common = {
      REDIS_URL: redis.url,
      ...SCALE_CREDENTIALS,
      TICKET_TTL_SECONDS: '900',
      ...LOAD_FROM_ONE_ADDRESS,
      LOGIN_CONFIRMATION: 'scan',
    };
    const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    // One at a time, retried: eight processes booting at once on a busy 2-core machine miss the deadline.
    const pending: Array<() => Promise<AppProcess>> = [
      ...Array.from(
        { length: options.gateways },
        () => () => startApp('gateway', { ...common, WECHAT_API_BASE: sim!.url, SESSION_SIGNING_KEY: String(signingKey) }),
      ),
      ...webhookPorts.map((port) => () => startApp('webhook', { ...common, PORT: String(port) })),
    ];
    const started: AppProcess[] = [];
    for (const start of pending) started.push(...(await launch([startWithRetries(start)])));
    const gateways = started.slice(0, options.gateways);
    const webhooks = started.slice(options.gateways);
    const webhookUrls = webhooks.map((w) => `${w.url}/wechat`);
    let pusher: Worker | undefined;
    stops.push(async () => pusher?.stop());
    pusher = await startWorker(benchScript('workers/scan-pusher.js'));
    const simProcess = sim!;
    const simUrl = simProcess.url;
    return {
      kind: 'qrgate',
      gateways: gateways.map((g) => ({ url: g.url, pid: g.child.pid ?? -1 })),
      processes: [
        ...gateways.map((g) => ({ role: 'gateway', pid: g.child.pid ?? -1 })),
        ...webhooks.map((w) => ({ role: 'webhook', pid: w.child.pid ?? -1 })),
        { role: 'wechat-sim', pid: simProcess.child.pid ?? -1 },
        { role: 'pusher', pid: pusher.pid },
      ],
      webhookUrls,
      token: SCALE_CREDENTIALS.WECHAT_TOKEN,
      qrTickets: () => simQrTickets(simUrl),
      scan: async (tickets, rate) =>
        pusher!.call<PushResult>('pace', {
          url: webhookUrls,
          token: SCALE_CREDENTIALS.WECHAT_TOKEN,
          tickets,
          qrTickets: await simQrTickets(simUrl),
          rate,
        }),
      busMessages: () =>
        sumMetric(
          gateways.map((g) => g.metricsUrl),
          BUS_MESSAGES_RECEIVED,
        ),
      changes: () =>
        sumMetric(
          webhooks.map((w) => w.metricsUrl),
          TICKETS_SCANNED,
        ),
      redisCpuSeconds: () => cpu.read(),
      redisUsedMemory: () => cpu.usedMemory(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Start one floor script (`floors/<name>.js`) on a free port and wait until it answers `/stats`. */
export async function startFloorProcess(
  name: 'socketio-floor' | 'http-floor' | 'koa-wechat-floor',
  env: Record<string, string> = {},
): Promise<Spawned & { url: string }> {
  const port = await freePort();
  const spawned = spawnTracked(process.execPath, [benchScript(`floors/${name}.js`)], {
    PATH: process.env.PATH ?? '',
    ...env,
    PORT: String(port),
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = track(() => spawned.stop('SIGTERM', 5_000));
  try {
    await waitUntilAnswers(spawned, name, `${url}/stats`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ...spawned,
    url,
    stop: async () => {
      await stop();
      return spawned.exited;
    },
  };
}

async function floorStats(url: string): Promise<{ sockets: number; busMessages: number }> {
  const response = await fetch(`${url}/stats`);
  return (await response.json()) as { sockets: number; busMessages: number };
}

/**
 * Start the Socket.IO floor: `servers` bare servers; with `redis`, on a private Redis through the sharded
 * adapter, with the headless publisher delivering logins (without it, `scan` is not available). With
 * `wechatApi`, the stack floor for new logins: a simulator, and each connection calls its `qrcode/create`
 * (and, with `redis`, stores the code) before its `ticket`.
 */
export async function startFloor(options: { servers: number; redis: boolean; wechatApi?: boolean }): Promise<System> {
  const stops: Array<() => Promise<unknown>> = [];
  const stop = track(async () => {
    for (const s of stops.reverse()) await s();
  });
  try {
    let env: Record<string, string> = {};
    let publisher: Worker | undefined;
    let cpu: ReturnType<typeof redisCpuReader> | undefined;
    if (options.redis) {
      const redis = await startRedisServer();
      stops.push(() => redis.stop());
      const reader = redisCpuReader(redis.url);
      cpu = reader;
      stops.push(() => reader.close());
      env = { REDIS_URL: redis.url };
    }
    let sim: AppProcess | undefined;
    if (options.wechatApi === true) {
      const started = await startApp('wechat-sim', { ...SCALE_CREDENTIALS, WEBHOOK_URL: 'http://127.0.0.1:9/wechat' });
      sim = started;
      stops.push(() => started.stop('SIGTERM', 10_000));
      env = {
        ...env,
        WECHAT_API_BASE: started.url,
        WECHAT_APPID: SCALE_CREDENTIALS.WECHAT_APPID,
        WECHAT_SECRET: SCALE_CREDENTIALS.WECHAT_SECRET,
      };
    }
    const servers: Array<Spawned & { url: string }> = [];
    stops.push(() => Promise.all(servers.map((server) => server.stop())));
    for (let i = 0; i < options.servers; i++) servers.push(await startFloorProcess('socketio-floor', env));
    if (options.redis) {
      stops.push(async () => publisher?.stop());
      publisher = await startWorker(benchScript('floors/socketio-publisher.js'), env);
    }
    let published = 0;
    return {
      kind: 'floor',
      gateways: servers.map((s) => ({ url: s.url, pid: s.child.pid ?? -1 })),
      processes: [
        ...servers.map((server) => ({ role: 'server', pid: server.child.pid ?? -1 })),
        ...(publisher !== undefined ? [{ role: 'publisher', pid: publisher.pid }] : []),
        ...(sim !== undefined ? [{ role: 'wechat-sim', pid: sim.child.pid ?? -1 }] : []),
      ],
      async scan(tickets, rate) {
        if (publisher === undefined) throw new Error('the floor delivers logins only on Redis');
        const result = await publisher.call<PushResult>('pace', { tickets, rate });
        published += result.sent.length;
        return result;
      },
      busMessages: async () => (await Promise.all(servers.map((s) => floorStats(s.url)))).reduce((sum, s) => sum + s.busMessages, 0),
      changes: async () => published,
      redisCpuSeconds: async () => (cpu === undefined ? Number.NaN : cpu.read()),
      redisUsedMemory: async () => (cpu === undefined ? Number.NaN : cpu.usedMemory()),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
