/**
 * Browsers spread over several load-generator processes (`workers/socket-clients.ts`): one process holds
 * at most 20,000 files here and would eat the measured process's CPU if it were the bench itself. The pool
 * splits every request evenly over its workers and merges the answers.
 */
import { track } from './lifecycle.js';
import { benchScript } from './systems.js';
import type { ChurnResult, HoldResult, LoginsResult } from './workers/socket-clients.js';
import { startWorker, type Worker } from './workers/worker-protocol.js';

/** Sockets one worker is asked to hold at most (its descriptors, and its share of the CPU). */
export const SOCKETS_PER_WORKER = 4_000;

export class ClientPool {
  /** Which worker holds each ticket, to ask the right one for its login. */
  private readonly holder = new Map<string, Worker>();

  private constructor(
    private readonly workers: Worker[],
    readonly stop: () => Promise<void>,
  ) {}

  /** Start `size` client workers. */
  static async start(size: number): Promise<ClientPool> {
    const workers: Worker[] = [];
    const stop = track(() => Promise.all(workers.map((w) => w.stop())));
    try {
      workers.push(...(await Promise.all(Array.from({ length: size }, () => startWorker(benchScript('workers/socket-clients.js'))))));
    } catch (error) {
      await stop();
      throw error;
    }
    return new ClientPool(workers, stop);
  }

  /** The client workers' process ids. */
  get pids(): number[] {
    return this.workers.map((worker) => worker.pid);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Churn on `url` for `durationMs` with `concurrency` connections in flight per worker; merged. */
  async churn(url: string, durationMs: number, concurrency: number): Promise<ChurnResult> {
    const parts = await Promise.all(this.workers.map((w) => w.call<ChurnResult>('churn', { url, durationMs, concurrency })));
    return {
      completed: parts.reduce((n, p) => n + p.completed, 0),
      failed: parts.reduce((n, p) => n + p.failed, 0),
      latenciesMs: parts.flatMap((p) => p.latenciesMs),
      elapsedMs: Math.max(...parts.map((p) => p.elapsedMs)),
    };
  }

  /** Open `count` more waiting sockets round robin over `urls`, split over the workers. */
  async hold(urls: string[], count: number, concurrencyPerWorker: number): Promise<HoldResult> {
    const shares = this.workers.map((_, i) => Math.floor(count / this.workers.length) + (i < count % this.workers.length ? 1 : 0));
    const parts = await Promise.all(
      this.workers.map(async (worker, i) => {
        const part = await worker.call<HoldResult>('hold', { urls, count: shares[i], concurrency: concurrencyPerWorker });
        for (const ticket of part.tickets) this.holder.set(ticket, worker);
        return part;
      }),
    );
    // Interleave so that any prefix of `tickets` is spread over every worker.
    const tickets: string[] = [];
    for (let i = 0; i < Math.max(...parts.map((p) => p.tickets.length)); i++) {
      for (const part of parts) if (i < part.tickets.length) tickets.push(part.tickets[i]!);
    }
    return { tickets, failed: parts.reduce((n, p) => n + p.failed, 0), latenciesMs: parts.flatMap((p) => p.latenciesMs) };
  }

  /** The logins that arrived for `tickets` (waiting up to `timeoutMs` for all of them). */
  async logins(tickets: string[], timeoutMs: number): Promise<LoginsResult> {
    const byWorker = new Map<Worker, string[]>();
    for (const ticket of tickets) {
      const worker = this.holder.get(ticket);
      if (worker === undefined) continue;
      const mine = byWorker.get(worker);
      if (mine === undefined) byWorker.set(worker, [ticket]);
      else mine.push(ticket);
    }
    const parts = await Promise.all(
      [...byWorker].map(([worker, mine]) => worker.call<LoginsResult>('logins', { tickets: mine, timeoutMs })),
    );
    return { arrivals: parts.flatMap((p) => p.arrivals), duplicates: parts.reduce((n, p) => n + p.duplicates, 0) };
  }

  /** Close the sockets of `tickets`. */
  async release(tickets: string[]): Promise<void> {
    const byWorker = new Map<Worker, string[]>();
    for (const ticket of tickets) {
      const worker = this.holder.get(ticket);
      if (worker === undefined) continue;
      this.holder.delete(ticket);
      const mine = byWorker.get(worker);
      if (mine === undefined) byWorker.set(worker, [ticket]);
      else mine.push(ticket);
    }
    await Promise.all([...byWorker].map(([worker, mine]) => worker.call<number>('release', { tickets: mine })));
  }

  /** Close every held socket. */
  async closeAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call<number>('closeAll')));
    this.holder.clear();
  }
}

/** Workers needed to hold `sockets` at once. */
export const workersFor = (sockets: number): number => Math.max(2, Math.ceil(sockets / SOCKETS_PER_WORKER));
