/**
 * One log line per request, and the one `X-Request-Id` policy: a caller's id is kept when it looks like one
 * (a proxy or a client correlating its own logs), any other request gets a fresh UUID. The id is sent back,
 * kept in `ctx.state.requestId` for the app's own log lines, and never derived from the query string.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { Logger } from '../observability/index.js';

/** What the request log keeps in `ctx.state`. */
export interface RequestLogState {
  requestId: string;
}

export interface RequestLogOptions {
  logger: Logger;
  /** Paths logged at debug (probes run every few seconds). Default `/healthz`, `/readyz`. */
  quietPaths?: readonly string[];
  /**
   * An app's own line for some requests (message and extra fields, e.g. the webhook's push outcome); undefined
   * for the plain `request` line.
   */
  describe?(ctx: Context): { message: string; fields: Record<string, unknown> } | undefined;
}

export const DEFAULT_QUIET_PATHS = ['/healthz', '/readyz'] as const;

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The request id a request carries: the given header when well-formed, otherwise a fresh UUID. */
export function requestIdOf(given: string): string {
  return REQUEST_ID.test(given) ? given : randomUUID();
}

export function requestLog(options: RequestLogOptions): Middleware {
  const quiet = new Set<string>(options.quietPaths ?? DEFAULT_QUIET_PATHS);
  return async (ctx: Context, next) => {
    const requestId = requestIdOf(ctx.get('x-request-id'));
    ctx.state['requestId'] = requestId;
    ctx.set('X-Request-Id', requestId);
    const started = performance.now();
    try {
      await next();
    } finally {
      // Every line here is info or debug: with info off (LOG_LEVEL=warn) none is written, so none is built (an
      // app's `describe` may hash, as the webhook's ticket log id does). No early return: it would swallow the
      // error of `next`.
      if (options.logger.isLevelEnabled('info')) {
        const ms = Math.round(performance.now() - started);
        // `ctx.path` is the path without its query string: a signed query is replayable and must not be logged.
        const line = { requestId, method: ctx.method, path: ctx.path, status: ctx.status };
        const own = options.describe?.(ctx);
        if (own !== undefined) options.logger.info({ ...line, ...own.fields, ms }, own.message);
        else if (quiet.has(ctx.path)) options.logger.debug({ ...line, ms }, 'request');
        else options.logger.info({ ...line, ms }, 'request');
      }
    }
  };
}
