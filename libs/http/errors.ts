/**
 * HTTP errors of every Koa app, built on `http-errors` (the package Koa's own `ctx.throw` uses), so there is one
 * kind of error object at the edge: `status`, `expose` (true under 500 unless said otherwise), optional
 * response `headers`, and whatever an app adds (`code` for the browser, `outcome` for a webhook log line).
 */
import createHttpError, { isHttpError, type HttpError } from 'http-errors';

export type { HttpError };
export { isHttpError };

/** Extra fields carried by an edge error; `headers` are set on the response, the rest is for the app. */
export interface HttpErrorProps {
  /** Response headers to send with the error (`Retry-After`, `Connection: close`). */
  headers?: Record<string, string>;
  /** Whether the client may read `message`. Default: `status < 500`. */
  expose?: boolean;
  [field: string]: unknown;
}

/** An error with its HTTP meaning. Throw it anywhere under {@link errorPath}. */
export function httpError(status: number, message: string, props: HttpErrorProps = {}): HttpError {
  return createHttpError(status, message, props);
}
