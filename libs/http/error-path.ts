/**
 * The one error middleware of every Koa app, keyed on `expose` as Koa's own `ctx.onerror` is: a client reads an
 * error's message (and its `code`) only when the error says it may; anything else is a bare 500 that is logged.
 * Nothing a client sends can take the process down.
 */
import type { Context, Middleware } from 'koa';
import type { Logger } from '../observability/index.js';
import { isHttpError } from './errors.js';

export interface ErrorPathOptions {
  /** `json`: `{ error, code? }`; `text`: the message as text/plain. */
  render: 'json' | 'text';
  logger: Logger;
  /** Log line of an unexpected error. Default `request failed`. */
  logMessage?: string;
}

/** What an error means for the response: its status and what the client may read. */
export interface ErrorVerdict {
  status: number;
  message: string;
  code?: string;
  headers: Record<string, string>;
  /** False for a 5xx or an error that does not say what it is: it is logged and shown as `internal error`. */
  exposed: boolean;
}

/** Read an error the way {@link errorPath} answers it. */
export function errorVerdict(error: unknown): ErrorVerdict {
  if (isHttpError(error) && error.expose) {
    const code = (error as { code?: unknown }).code;
    return {
      status: error.status,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      headers: stringHeaders(error.headers),
      exposed: true,
    };
  }
  const status = isHttpError(error) && error.status >= 400 && error.status < 600 ? error.status : 500;
  return { status, message: 'internal error', headers: isHttpError(error) ? stringHeaders(error.headers) : {}, exposed: false };
}

export function errorPath(options: ErrorPathOptions): Middleware {
  const logMessage = options.logMessage ?? 'request failed';
  return async (ctx: Context, next) => {
    try {
      await next();
    } catch (error) {
      const verdict = errorVerdict(error);
      if (verdict.status >= 500) {
        options.logger.error({ err: error, path: ctx.path, requestId: ctx.state['requestId'] }, logMessage);
      }
      // A step that wrote the raw response itself (the WeChat package) has answered already.
      if (ctx.res.headersSent) return;
      ctx.respond = true;
      ctx.status = verdict.status;
      for (const [name, value] of Object.entries(verdict.headers)) ctx.set(name, value);
      if (options.render === 'json') {
        ctx.body = verdict.code !== undefined ? { error: verdict.message, code: verdict.code } : { error: verdict.message };
      } else {
        ctx.type = 'text/plain';
        ctx.body = verdict.message;
      }
    }
  };
}

function stringHeaders(headers: unknown): Record<string, string> {
  if (typeof headers !== 'object' || headers === null) return {};
  return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}
