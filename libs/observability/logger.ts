/**
 * Structured JSON logs (pino). Secrets never reach a log line: known secret fields are redacted, and callers
 * log ticket ids only through `ticketLogId`.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

const REDACT = [
  'secret',
  '*.secret',
  // A login code travels as `code` in request bodies and login payloads. Not `*.code`: that would also hide
  // error codes (ECONNREFUSED, RATE_LIMITED), which a log exists to show.
  'code',
  'body.code',
  'payload.code',
  'login.code',
  'session.code',
  'token',
  '*.token',
  'access_token',
  '*.access_token',
  'aesKey',
  '*.aesKey',
  'req.headers.cookie',
  'req.headers.authorization',
  'headers.cookie',
  'headers.authorization',
  // ioredis errors carry the failed command with its arguments: a ticket CAS carries the ticket JSON, login
  // code and all. Keep the command's name, drop its arguments — wherever the error is logged, and in the
  // errors ioredis nests (a transaction's previousErrors, a cluster's lastNodeError). An Error's `cause` needs no
  // path: pino's serializer keeps only its message and stack.
  'command.args',
  'err.command.args',
  '*.command.args',
  'err.previousErrors[*].command.args',
  '*.previousErrors[*].command.args',
  'err.lastNodeError.command.args',
  '*.lastNodeError.command.args',
];

export interface LoggerOptions {
  /** Default `info`. */
  level?: string;
  /** Name of the app writing the log. */
  app: string;
  /** Where the lines go. Default stdout; tests pass a stream to read what production would write. */
  destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    level: options.level ?? 'info',
    base: { app: options.app },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}

/** Path of a URL without its query string (WeChat's signed query strings are replayable). */
export const pathOnly = (url: string | undefined): string => (url ?? '').split('?')[0] ?? '';
