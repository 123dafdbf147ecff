/**
 * Process lifecycle for the apps' `main.ts`: stop cleanly on SIGTERM/SIGINT within a deadline, and report a
 * start-up failure in one line.
 */

export interface ShutdownLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Run `shutdown` once on SIGTERM or SIGINT, then exit 0 (1 if it failed). A second signal, or the hard
 * deadline passing, exits at once.
 */
export function onShutdownSignal(shutdown: (signal: string) => Promise<void>, logger: ShutdownLogger, hardDeadlineMs: number): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.info({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error({ hardDeadlineMs }, 'shutdown deadline passed: exiting');
      process.exit(1);
    }, hardDeadlineMs);
    deadline.unref();
    shutdown(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}

/** Print a start-up failure (e.g. ConfigError) without a stack trace and exit 1. */
export function exitOnStartupError(err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`qrgate: ${message}\n`);
  process.exit(1);
}
