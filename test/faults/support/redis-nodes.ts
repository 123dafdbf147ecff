/**
 * Redis servers the fault suite can hurt: a standalone server that can be SIGKILLed and started again empty
 * on the same port (Redis restarted without persistence), and a six-node cluster whose nodes are handles, so
 * a master can be SIGKILLed once its replica has synced. test/support/redis-server.ts hides its processes on
 * purpose (ordinary tests must not touch them); this file is its counterpart for faults.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, spawnTracked, type Spawned } from '../../support/app-process.js';

const run = promisify(execFile);
// The slot function ioredis routes by (its own dependency, CommonJS and untyped).
const keySlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;
const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const HOST = '127.0.0.1';

/** One redis-server on a fixed port that can die and come back. */
export interface RedisNode {
  readonly port: number;
  readonly address: string;
  /** Is the process running? */
  alive(): boolean;
  /** SIGKILL: no save, no goodbye. */
  kill(): Promise<void>;
  /** Start again on the same port and directory (empty: persistence is off). */
  start(): Promise<void>;
  /** SIGSTOP: the process is alive but answers nothing (a replica that stops acknowledging), until `resume`. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  stop(): Promise<void>;
}

export async function cli(port: number, ...command: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ['-h', HOST, '-p', String(port), ...command], { timeout: 5_000 });
  return stdout;
}

export async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createNode(dir: string, extra: string[]): Promise<RedisNode> {
  const port = await freePort();
  let proc: Spawned | undefined;
  const args = ['--port', String(port), '--bind', HOST, '--dir', dir, '--save', '', '--appendonly', 'no', ...extra];
  const node: RedisNode = {
    port,
    address: `${HOST}:${port}`,
    alive: () => proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null,
    async kill() {
      await proc?.stop('SIGKILL');
    },
    async start() {
      proc = spawnTracked(REDIS_SERVER, args, { PATH: process.env.PATH ?? '' });
      await waitFor(`redis-server on ${port}`, 15_000, async () => {
        if (!node.alive()) throw new Error(`redis-server on ${port} exited:\n${proc?.output() ?? ''}`);
        return (await cli(port, 'PING')).trim() === 'PONG';
      });
    },
    pause() {
      proc?.child.kill('SIGSTOP');
    },
    resume() {
      proc?.child.kill('SIGCONT');
    },
    async stop() {
      // A paused server would ignore SIGTERM until its grace ran out.
      proc?.child.kill('SIGCONT');
      await proc?.stop('SIGTERM', 5_000);
    },
  };
  await node.start();
  return node;
}

/** A standalone server in a fresh directory. */
export async function startRedisNode(): Promise<RedisNode & { url: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'qrgate-faults-redis-'));
  const node = await createNode(dir, []);
  return {
    ...node,
    url: `redis://${HOST}:${node.port}`,
    async remove() {
      await node.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Six nodes, three masters with one replica each. */
export interface FaultCluster {
  readonly nodes: RedisNode[];
  /** Seeds for REDIS_CLUSTER_NODES. */
  readonly seeds: string;
  /** The masters whose replica reports a finished first sync (`master_link_status:up`). */
  syncedMaster(): Promise<{ master: RedisNode; replica: RedisNode }>;
  /** Every one of the three replicas reports its link to its master up (`master_link_status:up`). */
  replicasSynced(): Promise<boolean>;
  /** The replica of the master that owns `key`'s slot, as `CLUSTER NODES` lists it now. */
  replicaOf(key: string): Promise<RedisNode>;
  /** Every node that runs reports `cluster_state:ok`. */
  healthy(): Promise<boolean>;
  remove(): Promise<void>;
}

/** Whether a `CLUSTER NODES` line's slot ranges (`from-to` or one slot, from its 9th field on) hold `slot`. */
const ownsSlot = (fields: string[], slot: number): boolean =>
  fields.slice(8).some((range) => {
    const [from, to = from] = range.split('-').map(Number);
    return from !== undefined && to !== undefined && slot >= from && slot <= to;
  });

export async function startFaultCluster(): Promise<FaultCluster> {
  const root = await mkdtemp(join(tmpdir(), 'qrgate-faults-cluster-'));
  const nodes: RedisNode[] = [];
  const remove = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      const dir = join(root, `node-${i}`);
      await mkdir(dir, { recursive: true });
      nodes.push(
        await createNode(dir, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          '2000',
          '--cluster-port',
          String(await freePort()),
        ]),
      );
    }
    await run(REDIS_CLI, ['--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', '1', '--cluster-yes'], {
      timeout: 60_000,
    });
    const healthy = async (): Promise<boolean> => {
      const live = nodes.filter((n) => n.alive());
      const infos = await Promise.all(live.map((n) => cli(n.port, 'CLUSTER', 'INFO')));
      return infos.every((info) => info.includes('cluster_state:ok'));
    };
    await waitFor('cluster ok', 60_000, healthy);
    const syncedMaster = async (): Promise<{ master: RedisNode; replica: RedisNode }> => {
      let found: { master: RedisNode; replica: RedisNode } | undefined;
      await waitFor('a replica in sync', 30_000, async () => {
        for (const replica of nodes) {
          const info = await cli(replica.port, 'INFO', 'replication');
          if (!info.includes('role:slave') || !info.includes('master_link_status:up')) continue;
          if (info.includes('master_sync_in_progress:1')) continue;
          const masterPort = Number(/master_port:(\d+)/.exec(info)?.[1]);
          const master = nodes.find((n) => n.port === masterPort);
          if (master !== undefined) found = { master, replica };
          return true;
        }
        return false;
      });
      return found!;
    };
    const replicasSynced = async (): Promise<boolean> => {
      const infos = await Promise.all(nodes.map((node) => cli(node.port, 'INFO', 'replication')));
      return infos.filter((info) => info.includes('role:slave') && info.includes('master_link_status:up')).length === 3;
    };
    const replicaOf = async (key: string): Promise<RedisNode> => {
      const slot = keySlot(key);
      // One node a line: `id host:port@cport flags master ping pong epoch state slot…`.
      const listed = (await cli(nodes[0]!.port, 'CLUSTER', 'NODES'))
        .trim()
        .split('\n')
        .map((line) => line.trim().split(' '));
      const master = listed.find((fields) => fields[2]?.includes('master') && ownsSlot(fields, slot));
      const replica = listed.find((fields) => master !== undefined && fields[3] === master[0]);
      const address = replica?.[1]?.split('@')[0];
      const node = nodes.find((n) => n.address === address);
      if (node === undefined) throw new Error(`no replica found for slot ${slot}`);
      return node;
    };
    return { nodes, seeds: nodes.map((n) => n.address).join(','), syncedMaster, replicasSynced, replicaOf, healthy, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
