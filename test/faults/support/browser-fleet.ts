/**
 * Many concurrent browsers, spread over worker processes (browser-worker.ts), and what each one saw. The
 * fleet only records; tally.ts decides what the record means.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../support/app-process.js';
import type { WorkerCommand, WorkerEvent } from './browser-worker.js';

const WORKER = join(REPO_ROOT, 'dist/test/faults/support/browser-worker.js');

export type Transport = 'websocket' | 'polling';

/** Browsers that arrive together. */
export const OPEN_WAVE = 100;

/** Everything one browser saw, in order. */
export interface BrowserRecord {
  readonly id: number;
  readonly transport: Transport;
  readonly events: WorkerEvent[];
  /** The ticket it holds now (the last `ticket` event), if any. */
  current?: { ticket: string; secret: string };
  connected: boolean;
}

export interface Fleet {
  readonly browsers: BrowserRecord[];
  /** Open `count` browsers on `url`, alternating WebSocket-only and polling-then-upgrade; wait for their tickets. */
  open(url: string, count: number, timeoutMs?: number): Promise<BrowserRecord[]>;
  /** Kill a browser's transport (its network dropped); it reconnects and resumes by itself. */
  drop(id: number): void;
  /** Wait until `check` holds for the fleet, or throw. */
  until(what: string, check: () => boolean, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startFleet(workers: number): Promise<Fleet> {
  if (!existsSync(WORKER)) throw new Error(`${WORKER} is missing: run \`npm run build\` first`);
  const children: ChildProcess[] = [];
  const browsers: BrowserRecord[] = [];
  const owner = new Map<number, ChildProcess>();
  for (let i = 0; i < workers; i++) {
    const child = fork(WORKER, [], { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (event: WorkerEvent) => {
      const browser = browsers[event.id];
      if (browser === undefined) return;
      browser.events.push(event);
      if (event.ev === 'ticket') browser.current = { ticket: event.ticket, secret: event.secret };
      else if (event.ev === 'connected') browser.connected = true;
      else if (event.ev === 'disconnected') browser.connected = false;
    });
    children.push(child);
  }
  const command = (child: ChildProcess | undefined, message: WorkerCommand): void => {
    if (child?.connected === true) child.send(message);
  };
  const until = async (what: string, check: () => boolean, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  let closed: Promise<void> | undefined;
  return {
    browsers,
    async open(url, count, timeoutMs = 60_000) {
      const opened: BrowserRecord[] = [];
      const deadline = Date.now() + timeoutMs;
      for (let n = 0; n < count; n++) {
        const id = browsers.length;
        const record: BrowserRecord = { id, transport: id % 2 === 0 ? 'websocket' : 'polling', events: [], connected: false };
        browsers.push(record);
        opened.push(record);
        const child = children[id % children.length];
        owner.set(id, child!);
        command(child, { op: 'open', id, url, transport: record.transport });
        // Users arrive in waves, not all in one millisecond: each wave gets its QR codes before the next comes,
        // so a thousand waiting browsers do not mean a thousand simultaneous WeChat API calls.
        if (n % OPEN_WAVE === OPEN_WAVE - 1) {
          await until(
            'a wave of browsers gets its tickets',
            () => opened.every((b) => b.current !== undefined),
            Math.max(0, deadline - Date.now()),
          ).catch(() => undefined);
        }
      }
      try {
        await until(
          `${count} browsers get a ticket`,
          () => opened.every((b) => b.current !== undefined),
          Math.max(0, deadline - Date.now()),
        );
      } catch (error) {
        // Say how far it got and what the gateways answered, so a slow machine and a refusal look different.
        const waiting = opened.filter((b) => b.current === undefined);
        const refusals = new Map<string, number>();
        for (const b of waiting) for (const e of b.events) if (e.ev === 'refused') refusals.set(e.code, (refusals.get(e.code) ?? 0) + 1);
        const connected = waiting.filter((b) => b.connected).length;
        throw new Error(
          `${error instanceof Error ? error.message : String(error)}: ${waiting.length} without a ticket (${connected} of them connected), refusals ${JSON.stringify(Object.fromEntries(refusals))}`,
        );
      }
      return opened;
    },
    drop(id) {
      command(owner.get(id), { op: 'drop', id });
    },
    until,
    close: () =>
      (closed ??= Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          command(child, { op: 'closeAll' });
          const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
          await exited;
          clearTimeout(timer);
        }),
      ).then(() => undefined)),
  };
}
