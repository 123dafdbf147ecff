/**
 * Private Redis servers for tests: each call spawns its own `redis-server` processes on free ports in a fresh
 * temporary directory, so a test never depends on (or disturbs) a server someone else left running.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireTool } from './test-tools.js';

const run = promisify(execFile);

// Found on PATH or through QRGATE_REDIS_SERVER / QRGATE_REDIS_CLI (see test-tools.ts), resolved on first use.
const redisServer = (): string => requireTool('redisServer');
const redisCli = (): string => requireTool('redisCli');
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 15_000;
const CLUSTER_TIMEOUT_MS = 60_000;

/** One private redis-server. */
export interface RedisServerHandle {
  url: string;
  port: number;
  /** Kill the server, wait for it to exit and remove its directory. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Kill the server and start a new one on the same port. Nothing is persisted, so the new server is empty:
   * what a Redis restarted without persistence looks like to its clients.
   */
  restart(): Promise<void>;
}

/** A private six-node Redis Cluster (three masters, one replica each). */
export interface RedisClusterHandle {
  /** `127.0.0.1:<port>` of every node. */
  nodes: string[];
  /** Kill every node and wait for them to exit. Safe to call twice. */
  stop(): Promise<void>;
}

// Last resort when a test run dies without calling stop(): no redis-server outlives the process that started it.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start a standalone redis-server and wait until it answers PING. */
export async function startRedisServer(): Promise<RedisServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'qrgate-redis-'));
  try {
    let node = await spawnNode(dir, []);
    const port = node.port;
    return {
      url: `redis://${HOST}:${port}`,
      port,
      stop: once(async () => {
        await node.stop();
        await rm(dir, { recursive: true, force: true });
      }),
      async restart() {
        await node.stop();
        node = await spawnNode(dir, [], port);
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Start six cluster-enabled servers, join them into a cluster, and wait until every node reports `ok`. */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const root = await mkdtemp(join(tmpdir(), 'qrgate-redis-cluster-'));
  const nodes: SpawnedNode[] = [];
  const stop = once(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(root, { recursive: true, force: true });
  });
  try {
    for (let i = 0; i < 6; i++) {
      nodes.push(await spawnClusterNode(root, i));
    }
    const addresses = nodes.map((node) => `${HOST}:${node.port}`);
    await run(redisCli(), ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: CLUSTER_TIMEOUT_MS,
    });
    await waitFor(CLUSTER_TIMEOUT_MS, async () => {
      const states = await Promise.all(nodes.map((node) => cli(node.port, 'CLUSTER', 'INFO')));
      return states.every((info) => info.includes('cluster_state:ok'));
    });
    return { nodes: addresses, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface SpawnedNode {
  port: number;
  stop(): Promise<void>;
}

async function spawnClusterNode(root: string, index: number): Promise<SpawnedNode> {
  const dir = join(root, `node-${index}`);
  await mkdir(dir, { recursive: true });
  // The cluster bus gets its own free port (Redis 7 `cluster-port`); the default, port + 10000, may be taken
  // or beyond 65535 when the OS hands out a high port.
  return spawnNode(dir, async () => [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--cluster-node-timeout',
    '5000',
    '--cluster-port',
    String(await freePort()),
  ]);
}

/**
 * Spawn one server on a free port. A port found free can be taken by someone else before redis binds it, so a
 * server that exits during start-up is retried on another port.
 */
async function spawnNode(dir: string, extra: string[] | (() => Promise<string[]>), fixedPort?: number): Promise<SpawnedNode> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    // A restart reuses its port (the clients reconnect to it); the old server may need a moment to release it.
    if (fixedPort !== undefined && attempt > 0) await new Promise((resolve) => setTimeout(resolve, 200));
    const port = fixedPort ?? (await freePort());
    const args = [
      '--port',
      String(port),
      '--bind',
      HOST,
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      ...(typeof extra === 'function' ? await extra() : extra),
    ];
    const child = spawn(redisServer(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void exited.then(() => running.delete(child));
    const stop = once(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    });
    try {
      await waitFor(START_TIMEOUT_MS, async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on ${port} exited`);
        return (await cli(port, 'PING').catch(() => '')).trim() === 'PONG';
      });
      return { port, stop };
    } catch (error) {
      lastError = error;
      await stop();
    }
  }
  throw new Error(`could not start redis-server: ${String(lastError)}`);
}

/** A port nobody listens on right now: bind port 0, read what the OS chose, release it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

async function cli(port: number, ...command: string[]): Promise<string> {
  const { stdout } = await run(redisCli(), ['-h', HOST, '-p', String(port), ...command], { timeout: 5_000 });
  return stdout;
}

async function waitFor(timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}
