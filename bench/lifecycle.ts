/**
 * Everything the bench starts is stopped, also on error and Ctrl-C: each running piece registers its stop
 * here, scenarios stop their own in `finally`, and SIGINT/SIGTERM stop whatever is still registered before
 * the bench exits. (The process-exit hooks of the spawners remain the last resort.)
 */
const stops = new Set<() => Promise<unknown>>();

/** Register `stop`; the returned function runs it (once) and unregisters it. */
export function track(stop: () => Promise<unknown>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const run = (): Promise<void> =>
    (done ??= (async () => {
      stops.delete(run);
      await stop();
    })());
  stops.add(run);
  return run;
}

/** Run `body` with a scope whose registered stops all run, newest first, when it ends however it ends. */
export async function withScope<T>(body: (defer: (stop: () => Promise<unknown>) => void) => Promise<T>): Promise<T> {
  const mine: Array<() => Promise<void>> = [];
  try {
    return await body((stop) => mine.push(track(stop)));
  } finally {
    for (const stop of mine.reverse()) await stop().catch((error: unknown) => process.stderr.write(`stop failed: ${String(error)}\n`));
  }
}

/** Stop everything still registered (all at once: on a signal there is no order left to keep). */
export async function stopEverything(): Promise<void> {
  await Promise.allSettled([...stops].map((stop) => stop()));
}

/** On SIGINT/SIGTERM: stop everything, then exit 130. */
export function stopOnSignals(): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping everything the bench started…\n`);
    void stopEverything().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
