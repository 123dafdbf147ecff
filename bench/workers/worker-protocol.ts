/**
 * Load generators run as child processes (one process holds at most 20,000 files here, and a generator in
 * the measured process would steal its CPU). This is the one request/answer protocol over Node's IPC
 * channel: the bench calls `worker.call(op, args)`, the child serves its handlers, and every worker started
 * is tracked so none outlives the bench, even when it dies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

interface Request {
  id: number;
  op: string;
  args: unknown;
}
type Answer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A running worker process. */
export interface Worker {
  readonly pid: number;
  /** Run `op` in the worker and resolve with what its handler returned. */
  call<T>(op: string, args?: unknown): Promise<T>;
  /** Disconnect and wait for the exit (SIGKILL after `graceMs`). Safe to call twice. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Fork `script` (a compiled file under dist/) with `env` added to ours, and wait until it says it is ready. */
export async function startWorker(script: string, env: Record<string, string> = {}): Promise<Worker> {
  const child = fork(script, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  running.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  child.on('message', (message: Answer | 'ready') => {
    if (message === 'ready') return;
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(`worker ${script}: ${message.error}`));
  });
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error(`worker ${script} exited`));
    pending.clear();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', (message) => (message === 'ready' ? resolve() : reject(new Error(`worker ${script}: no ready`))));
    child.once('exit', (code) => reject(new Error(`worker ${script} exited with ${code} before it was ready`)));
  });
  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    call<T>(op: string, args: unknown = {}): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, op, args } satisfies Request);
      });
    },
    stop(graceMs = 5_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** The child's side: answer requests with `handlers`; exits when the parent goes away or on SIGTERM. */
export function serveWorker(
  handlers: Record<string, (args: never) => Promise<unknown>>,
  onStop: () => Promise<void> = async () => {},
): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('a bench worker must be started with startWorker (IPC)');
  const stop = (): void => {
    void onStop().finally(() => process.exit(0));
  };
  process.on('message', (request: Request) => {
    const handler = handlers[request.op];
    if (handler === undefined) {
      send({ id: request.id, ok: false, error: `unknown op ${request.op}` } satisfies Answer);
      return;
    }
    handler(request.args as never).then(
      (result) => send({ id: request.id, ok: true, result } satisfies Answer),
      (error: unknown) =>
        send({
          id: request.id,
          ok: false,
          error: error instanceof Error ? (error.stack ?? error.message) : String(error),
        } satisfies Answer),
    );
  });
  process.once('disconnect', stop);
  process.once('SIGTERM', stop);
  process.once('SIGINT', () => {
    // Ctrl-C reaches the whole process group; the bench itself decides when its workers stop.
  });
  send('ready');
}

/**
 * Open-loop pacing: call `task(i)` for i in [0, count) at `ratePerSecond`, on schedule whether or not earlier
 * calls have finished (a queue in the system under test must show up as latency, not as a slower sender).
 * Resolves when every call has settled.
 */
export async function paced(count: number, ratePerSecond: number, task: (index: number) => Promise<void>): Promise<void> {
  const started = wallNow();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / ratePerSecond;
    const wait = due - wallNow();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inflight.push(task(i));
  }
  await Promise.all(inflight);
}
