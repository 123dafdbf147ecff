/**
 * Request bodies, read once and bounded: each reader has a size limit and a read timeout (a client that
 * trickles its body must not hold a request open), and refuses what it cannot read with an HTTP error whose
 * message says why. No body parser is installed: the webhook needs the raw text (its signature covers it) and
 * each route knows the one type it accepts.
 */
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { TIMED_OUT, withTimeout } from '../runtime/with-timeout.js';
import { httpError, isHttpError, type HttpErrorProps } from './errors.js';

export interface BodyOptions {
  /** Largest body accepted, bytes. */
  limit: number;
  /** How long reading the body may take, ms. Default {@link BODY_READ_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Fields added to every refusal (e.g. the protocol's `code`). */
  refusal?: HttpErrorProps;
}

export const BODY_READ_TIMEOUT_MS = 10_000;

/**
 * The body as UTF-8 text. 413 past `limit` (with `Connection: close`: the rest of the body is not read), 408
 * past the timeout, 400 when the stream fails or its length does not match Content-Length.
 */
export function readText(ctx: Context, options: BodyOptions): Promise<string> {
  return readBody(ctx, options, 'utf8');
}

/** The body's bytes as they came (a proxy passing them on must not re-encode them), with readText's refusals. */
export function readBytes(ctx: Context, options: BodyOptions): Promise<Buffer> {
  return readBody(ctx, options, undefined);
}

async function readBody<E extends 'utf8' | undefined>(
  ctx: Context,
  options: BodyOptions,
  encoding: E,
): Promise<E extends 'utf8' ? string : Buffer> {
  type Read = E extends 'utf8' ? string : Buffer;
  const extra = options.refusal ?? {};
  const length = ctx.get('content-length') || null;
  const reading = (
    encoding === 'utf8'
      ? getRawBody(ctx.req, { limit: options.limit, length, encoding: 'utf8' })
      : getRawBody(ctx.req, { limit: options.limit, length })
  ) as Promise<Read>;
  let read: Read | typeof TIMED_OUT;
  try {
    read = await withTimeout(reading, options.timeoutMs ?? BODY_READ_TIMEOUT_MS);
  } catch (error) {
    if (isHttpError(error) && error.status === 413) {
      throw httpError(413, `body too large (limit ${options.limit} bytes)`, { ...extra, headers: { Connection: 'close' } });
    }
    throw httpError(400, 'could not read the request body', extra);
  }
  if (read === TIMED_OUT) {
    // The reader is abandoned; stop taking bytes from this client and close after the answer.
    reading.catch(() => undefined);
    ctx.req.pause();
    throw httpError(408, 'request body not received in time', { ...extra, headers: { Connection: 'close' } });
  }
  return read;
}

export interface JsonBodyOptions extends BodyOptions {
  /** Refuse (415) a body not declared `application/json` (an HTML form cannot send that cross-site). Default true. */
  requireType?: boolean;
  /** What an empty body is: `refuse` (400, the default) or `undefined`. */
  empty?: 'refuse' | 'undefined';
  /** The end of the 400 message for an empty body, e.g. `expected JSON { code, secret }`. */
  expected?: string;
}

/** The body parsed as JSON; 415 for another type or any Content-Encoding, 400 when empty or not JSON. */
export async function readJson(ctx: Context, options: JsonBodyOptions): Promise<unknown> {
  const extra = options.refusal ?? {};
  if (options.requireType !== false) {
    // `ctx.is` answers null for an empty body; the header is what the client declared.
    if (ctx.request.type !== 'application/json') throw httpError(415, 'expected Content-Type: application/json', extra);
    const encoding = ctx.get('content-encoding').toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      throw httpError(415, `unsupported Content-Encoding: ${encoding.slice(0, 20)}`, extra);
    }
  }
  const raw = await readText(ctx, options);
  if (raw.trim() === '') {
    if (options.empty === 'undefined') return undefined;
    throw httpError(400, options.expected !== undefined ? `empty body: ${options.expected}` : 'empty body', extra);
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw httpError(400, 'body is not valid JSON', extra);
  }
}

/**
 * An `application/x-www-form-urlencoded` body as one value per field: null when it is not a form, or a field
 * is repeated (no form of ours sends that). Past the limit or the timeout it throws like {@link readText}.
 */
export async function readForm(ctx: Context, options: BodyOptions): Promise<Record<string, string> | null> {
  if (!ctx.is('application/x-www-form-urlencoded')) return null;
  let raw: string;
  try {
    raw = await readText(ctx, options);
  } catch (error) {
    if (isHttpError(error) && error.status === 400) return null;
    throw error;
  }
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(raw)) {
    if (Object.hasOwn(fields, name)) return null;
    fields[name] = value;
  }
  return fields;
}
