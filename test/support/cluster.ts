/**
 * A scaled-out qrgate for tests and the benchmark: N gateway and M webhook processes on one engine, a WeChat
 * simulator process for the API, HAProxy in front when asked, and a "WeChat server" that pushes signed scan
 * events to any webhook.
 *
 */
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { buildEventXml, readReply, signPush } from '../../libs/wechat/index.js';
import { REPO_ROOT, freePort, spawnTracked, startApp, waitUntilAnswers, type AppProcess } from './app-process.js';
import { requireTool } from './test-tools.js';

/** The HAProxy configuration that is deployed, run as is by the tests. */
export const HAPROXY_CONFIG = join(REPO_ROOT, 'deploy/haproxy/haproxy.cfg');

/** Credentials shared by the simulator, the gateways and the webhooks (the simulator's `WeChat`). */
export const SCALE_CREDENTIALS = {
  WECHAT_APPID: 'wxqrgatescale0001',
  WECHAT_SECRET: 'qrgate-scale-test-secret',
  WECHAT_TOKEN: 'qrgate-scale-test-token',
} as const;

/**
 * The limits a load from one address needs lifted (every test browser is 127.0.0.1, or HAProxy's address):
 * the per-client rate limits, the per-address connection cap, and more QR codes than a real account's day allows.
 */
export const LOAD_FROM_ONE_ADDRESS = {
  RATE_LIMIT_TICKETS_PER_MINUTE: '1000000',
  RATE_LIMIT_EXCHANGES_PER_MINUTE: '1000000',
  MAX_CONNECTIONS_PER_IP: '1000000',
  RATE_LIMIT_RESUMES_PER_MINUTE: '1000000',
  WECHAT_QR_DAILY_QUOTA: '100000000',
} as const;

/** The Official Account's original id, the `ToUserName` of every push. */
const ORIGINAL_ID = 'gh_qrgatescale00';

/** One running app process. */
export type NodeApp = AppProcess;

export { freePort };

/** Options of {@link startScaleCluster}. */
export interface ScaleClusterOptions {
  gateways: number;
  webhooks: number;
  /** `REDIS_URL` or `REDIS_CLUSTER_NODES`. */
  engineEnv: Record<string, string>;
  /** Extra settings of every gateway, e.g. `SHUTDOWN_TIMEOUT_MS`. Default none. */
  gatewayEnv?: Record<string, string>;
}

/** The running processes of a scaled-out qrgate. */
export interface ScaleCluster {
  sim: NodeApp;
  gateways: NodeApp[];
  webhooks: NodeApp[];
  /** Stop every process that was started (SIGTERM, then SIGKILL); safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Start the simulator, then the gateways and webhooks in parallel. Settings fit a load test from one address:
 * rate limits out of the way, tickets that outlive the test, one session signing key for every gateway. If
 * anything fails to start, whatever did start is stopped before the error is thrown.
 */
export async function startScaleCluster(options: ScaleClusterOptions): Promise<ScaleCluster> {
  const started: NodeApp[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= Promise.all(started.map((app) => app.stop('SIGTERM', 10_000))).then(() => undefined));
  /** Launch several apps; when one fails, wait for the others to settle so none is left running untracked. */
  const launchAll = async (launches: Promise<NodeApp>[]): Promise<NodeApp[]> => {
    const settled = await Promise.allSettled(launches);
    for (const outcome of settled) if (outcome.status === 'fulfilled') started.push(outcome.value);
    const failed = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return settled.map((outcome) => (outcome as PromiseFulfilledResult<NodeApp>).value);
  };
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  const common = {
    ...options.engineEnv,
    ...SCALE_CREDENTIALS,
    TICKET_TTL_SECONDS: '600',
    ...LOAD_FROM_ONE_ADDRESS,
    LOGIN_CONFIRMATION: 'scan',
  };
  try {
    const webhookPorts = await Promise.all(Array.from({ length: options.webhooks }, () => freePort()));
    // The simulator is WeChat's API here; scans are pushed by the test itself (see `pushScan`), to any webhook.
    const [sim] = await launchAll([
      startApp('wechat-sim', { ...SCALE_CREDENTIALS, WEBHOOK_URL: `http://127.0.0.1:${webhookPorts[0] ?? 9}/wechat` }),
    ]);
    if (sim === undefined) throw new Error('the simulator did not start');
    const gatewayEnv = { ...common, WECHAT_API_BASE: sim.url, SESSION_SIGNING_KEY: String(signingKey), ...options.gatewayEnv };
    const apps = await launchAll([
      ...Array.from({ length: options.gateways }, () => startApp('gateway', gatewayEnv)),
      ...webhookPorts.map((port) => startApp('webhook', { ...common, PORT: String(port) })),
    ]);
    return { sim, gateways: apps.slice(0, options.gateways), webhooks: apps.slice(options.gateways), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What a webhook answered to a pushed scan. */
export interface PushedScan {
  status: number;
  /** The text the scanner would read in WeChat, or null for `success`. */
  reply: string | null;
}

/**
 * Be WeChat's server: push a signed `SCAN` event for `scene` by `openid` to `webhookUrl` (the `/wechat` URL),
 * exactly as WeChat would after the user scanned the code: with the code's QR ticket (`Ticket`), which WeChat
 * always sends and which the simulator at `simUrl` (WeChat's API here, it made the code) lists.
 */
export async function pushScan(webhookUrl: string, input: { scene: string; openid: string; simUrl: string }): Promise<PushedScan> {
  const codes = (await (await fetch(`${input.simUrl}/sim/api/codes`)).json()) as Array<{ scene: string; qrTicket: string }>;
  const qrTicket = codes.find((c) => c.scene === input.scene)?.qrTicket;
  if (qrTicket === undefined) throw new Error(`the simulator made no code for scene ${input.scene}`);
  const xml = buildEventXml({
    toUserName: ORIGINAL_ID,
    fromUserName: input.openid,
    createTime: Math.floor(Date.now() / 1000),
    event: 'SCAN',
    eventKey: input.scene,
    ticket: qrTicket,
  });
  const signed = signPush(xml, { token: SCALE_CREDENTIALS.WECHAT_TOKEN, openid: input.openid });
  const res = await fetch(`${webhookUrl}?${signed.query}`, {
    method: 'POST',
    headers: { 'content-type': 'text/xml' },
    body: signed.body,
  });
  const body = await res.text();
  return { status: res.status, reply: res.status === 200 ? readReply(body).content : null };
}

/** A running HAProxy in front of a cluster. */
export interface Haproxy {
  /** `http://127.0.0.1:<port>`: browsers' origin; `/wechat` reaches the webhooks. */
  readonly url: string;
  output(): string;
  /** Stop HAProxy and wait for it to exit; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Run the real `haproxy` in the foreground on `deploy/haproxy/haproxy.cfg` unchanged, pointing its servers at
 * these gateways (exactly three) and webhooks (exactly two), with fast health checks. Resolves once every
 * gateway answers `/readyz` through it.
 */
export async function startHaproxy(backends: {
  gateways: Array<Pick<NodeApp, 'port'>>;
  webhooks: Array<Pick<NodeApp, 'port'>>;
}): Promise<Haproxy> {
  if (backends.gateways.length !== 3 || backends.webhooks.length !== 2) {
    throw new Error('deploy/haproxy/haproxy.cfg names three gateways and two webhooks');
  }
  const port = await freePort();
  const address = (app: Pick<NodeApp, 'port'>): string => `127.0.0.1:${app.port}`;
  const spawned = spawnTracked(requireTool('haproxy'), ['-db', '-f', HAPROXY_CONFIG], {
    PATH: process.env.PATH ?? '',
    QRGATE_BIND: `127.0.0.1:${port}`,
    QRGATE_CHECK_INTER: '200ms',
    ...Object.fromEntries(backends.gateways.map((app, i) => [`QRGATE_GATEWAY_${i + 1}`, address(app)])),
    ...Object.fromEntries(backends.webhooks.map((app, i) => [`QRGATE_WEBHOOK_${i + 1}`, address(app)])),
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    await spawned.stop('SIGTERM', 5_000);
  };
  try {
    await waitUntilAnswers(spawned, 'haproxy', `${url}/readyz`, 10_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, output: spawned.output, stop };
}

/** Run `task` over `items` with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
