/**
 * Child processes for tests and the benchmark: our apps run as `node dist/apps/<app>/main.js`, the way
 * operators run them, and any other server (HAProxy) through the same tracking, so no process outlives the
 * run that started it. `npm test` builds dist/ first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root: the nearest directory above this file that holds `package.json`, so this works from
 * the sources (vitest) and compiled into `dist/test/support/` (the benchmark) alike.
 */
export const REPO_ROOT = ((): string => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (package.json)');
    dir = parent;
  }
  return dir;
})();

export type AppName = 'gateway' | 'webhook' | 'wechat-sim' | 'standalone';

/** A tracked child process. */
export interface Spawned {
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Send `signal` (default SIGTERM) and wait for the exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/** One of our apps, running. */
export interface AppProcess extends Spawned {
  readonly name: AppName;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<METRICS_PORT>`: where `GET /metrics` answers (never on `url`). */
  readonly metricsUrl: string;
}

// Last resort when a run dies without calling stop(): no child outlives the process that started it.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Start `command` in the repository root with exactly `env`, capturing its output. */
export function spawnTracked(command: string, args: string[], env: Record<string, string>): Spawned {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Poll `url` until it answers 2xx; throws (after killing the process) when it exits or takes too long. */
export async function waitUntilAnswers(spawned: Spawned, what: string, url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawned.child.exitCode !== null) throw new Error(`${what} exited with ${spawned.child.exitCode}:\n${spawned.output()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await spawned.stop('SIGKILL');
      throw new Error(`${what} did not answer ${url}:\n${spawned.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Run `node dist/apps/<name>/main.js` with `env` (plus PATH, HOST=127.0.0.1, LOG_LEVEL=warn) and wait until
 * it answers `/readyz` (or only `/healthz` with `waitReady: false`).
 */
export async function startApp(name: AppName, env: Record<string, string>, options: { waitReady?: boolean } = {}): Promise<AppProcess> {
  const entry = join(REPO_ROOT, 'dist/apps', name, 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  const port = Number(env.PORT ?? (await freePort()));
  const metricsPort = Number(env.METRICS_PORT ?? (await freePort()));
  const spawned = spawnTracked(process.execPath, [entry], {
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...env,
    PORT: String(port),
    METRICS_PORT: String(metricsPort),
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilAnswers(spawned, name, `${url}${options.waitReady === false ? '/healthz' : '/readyz'}`);
  return { name, port, url, metricsUrl: `http://127.0.0.1:${metricsPort}`, ...spawned };
}
