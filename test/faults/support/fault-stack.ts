/**
 * The system under fault: the WeChat simulator (WeChat's API, with its fault switch), three gateways and two
 * webhooks as separate processes on one engine, and the real `haproxy` on deploy/haproxy/haproxy.cfg in front
 * (browsers and WeChat's pushes on one port). Any app can be SIGKILLed or SIGTERMed and started again on its
 * port; every log line any app ever printed is kept, so a scenario can assert that none mentions an unhandled
 * rejection or an uncaught exception.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HAPROXY_CONFIG, LOAD_FROM_ONE_ADDRESS, SCALE_CREDENTIALS } from '../../support/cluster.js';
import {
  freePort,
  spawnTracked,
  startApp,
  waitUntilAnswers,
  type AppName,
  type AppProcess,
  type Spawned,
} from '../../support/app-process.js';

const HAPROXY = '/usr/sbin/haproxy';

/** One app slot: the process in it changes when the app is killed and started again. */
export interface AppSlot {
  readonly name: AppName;
  readonly label: string;
  readonly port: number;
  current(): AppProcess | undefined;
  /** SIGKILL, or SIGTERM and wait for the drain (exit code returned). */
  kill(signal: 'SIGKILL' | 'SIGTERM', graceMs?: number): Promise<number | null>;
  /** Start the app again on the same port. */
  restart(): Promise<void>;
}

export interface StackOptions {
  /** `REDIS_URL` or `REDIS_CLUSTER_NODES`. */
  engineEnv: Record<string, string>;
  /** `scan` (default) or `tap`. */
  confirmation?: 'scan' | 'tap';
  gatewayEnv?: Record<string, string>;
}

export interface FaultStack {
  /** HAProxy's origin: browsers connect here, WeChat pushes to `${url}/wechat`. */
  readonly url: string;
  readonly sim: AppProcess;
  readonly gateways: AppSlot[];
  readonly webhooks: AppSlot[];
  /** Every line every app printed, across restarts, with the app's label. */
  logs(): string[];
  /** Log lines that mention an unhandled rejection or an uncaught exception. */
  crashLines(): string[];
  /** Set the simulator's API fault switch (`{}` heals). */
  apiFaults(faults: { apiDelayMs?: number; apiStatus?: number }): Promise<void>;
  stop(): Promise<void>;
}

const CRASH = /unhandled ?rejection|uncaught ?exception|unhandledRejection|uncaughtException/i;

export async function startFaultStack(options: StackOptions): Promise<FaultStack> {
  const finished: string[] = [];
  const live = new Set<{ label: string; proc: Spawned }>();
  const haproxyPort = await freePort();
  const url = `http://127.0.0.1:${haproxyPort}`;
  const signingKey = String(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const tap = options.confirmation === 'tap';
  const common: Record<string, string> = {
    ...options.engineEnv,
    ...SCALE_CREDENTIALS,
    TICKET_TTL_SECONDS: '600',
    ...LOAD_FROM_ONE_ADDRESS,
    MAX_REFRESHES_PER_SOCKET: '1000',
    LOGIN_CONFIRMATION: tap ? 'tap' : 'scan',
    ...(tap ? { SESSION_SECRET: 'qrgate-faults-confirmation-secret', PUBLIC_URL: url } : {}),
  };
  let sim: AppProcess | undefined;
  let haproxy: Spawned | undefined;
  const slots: AppSlot[] = [];
  const track = (label: string, proc: AppProcess): AppProcess => {
    const entry = { label, proc };
    live.add(entry);
    void proc.exited.then(() => {
      live.delete(entry);
      finished.push(...tagged(label, proc.output()));
    });
    return proc;
  };
  const stop = async (): Promise<void> => {
    await haproxy?.stop('SIGTERM', 5_000);
    await Promise.all(slots.map((slot) => slot.current()?.stop('SIGTERM', 10_000)));
    await sim?.stop('SIGTERM', 5_000);
    // To read a failed full-size run afterwards: every app's log and HAProxy's request log, one file per run.
    const logDir = process.env['QRGATE_FAULTS_LOG_DIR'];
    if (logDir !== undefined && logDir !== '') {
      await mkdir(logDir, { recursive: true });
      const all = [...finished, ...tagged('haproxy', haproxy?.output() ?? '')];
      await writeFile(join(logDir, `stack-${new Date().toISOString().replace(/[:.]/g, '-')}.log`), `${all.join('\n')}\n`);
    }
  };
  try {
    sim = track('sim', await startApp('wechat-sim', { ...SCALE_CREDENTIALS, WEBHOOK_URL: `${url}/wechat`, LOG_LEVEL: 'info' }));
    const gatewayEnv = {
      ...common,
      WECHAT_API_BASE: sim.url,
      SESSION_SIGNING_KEY: signingKey,
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...options.gatewayEnv,
      // A diagnostic switch for `npm run test:faults`, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where a
      // gateway's time went during a fault (the profile is written when it exits).
      ...(process.env.QRGATE_FAULTS_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.QRGATE_FAULTS_GATEWAY_NODE_OPTIONS } : {}),
    };
    const makeSlot = async (name: AppName, label: string, env: Record<string, string>): Promise<AppSlot> => {
      const port = await freePort();
      let proc: AppProcess | undefined;
      const launch = async (): Promise<void> => {
        proc = track(label, await startApp(name, { ...env, PORT: String(port) }));
      };
      const slot: AppSlot = {
        name,
        label,
        port,
        current: () => proc,
        kill: async (signal, graceMs = 30_000) => (await proc?.stop(signal, graceMs)) ?? null,
        restart: launch,
      };
      slots.push(slot);
      await launch();
      return slot;
    };
    // One at a time: on a busy machine five Node processes booting at once can miss start-up's deadline.
    const gateways: AppSlot[] = [];
    for (const i of [1, 2, 3]) gateways.push(await makeSlot('gateway', `gw${i}`, gatewayEnv));
    const webhooks: AppSlot[] = [];
    for (const i of [1, 2]) webhooks.push(await makeSlot('webhook', `wh${i}`, common));
    haproxy = spawnTracked(HAPROXY, ['-db', '-f', HAPROXY_CONFIG], {
      PATH: process.env.PATH ?? '',
      QRGATE_BIND: `127.0.0.1:${haproxyPort}`,
      QRGATE_CHECK_INTER: '200ms',
      ...Object.fromEntries(gateways.map((slot, i) => [`QRGATE_GATEWAY_${i + 1}`, `127.0.0.1:${slot.port}`])),
      ...Object.fromEntries(webhooks.map((slot, i) => [`QRGATE_WEBHOOK_${i + 1}`, `127.0.0.1:${slot.port}`])),
    });
    await waitUntilAnswers(haproxy, 'haproxy', `${url}/readyz`, 10_000);
    const simUrl = sim.url;
    const logs = (): string[] => [...finished, ...[...live].flatMap(({ label, proc }) => tagged(label, proc.output()))];
    return {
      url,
      sim,
      gateways,
      webhooks,
      logs,
      crashLines: () => logs().filter((line) => CRASH.test(line)),
      async apiFaults(faults) {
        const res = await fetch(`${simUrl}/sim/api/faults`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(faults),
        });
        if (!res.ok) throw new Error(`the simulator refused the fault switch: ${res.status} ${await res.text()}`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function tagged(label: string, output: string): string[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => `[${label}] ${line}`);
}
