/**
 * What each error code means, declared once next to the code list: its HTTP status and the words a person
 * reads. `connect_error`, acknowledgements and HTTP error bodies all take their message from here, so a call
 * site names the code (and, where one code covers several situations, which one), never the words.
 * Browser-safe: no Node import, no zod.
 */
import type { ErrorCode } from './events.js';

interface ErrorMeaning {
  /** The HTTP status of the code wherever it is answered over HTTP. */
  status: number;
  /** The message when no detail is named. */
  message: string;
  /** Situations that share the code but read differently (what was rate-limited, why a code was refused). */
  details?: Readonly<Record<string, string>>;
}

export const ERRORS = {
  TICKET_NOT_FOUND: { status: 404, message: 'unknown or expired ticket' },
  TICKET_SECRET_MISMATCH: { status: 403, message: 'wrong ticket secret' },
  INVALID_PAYLOAD: {
    status: 400,
    message: 'invalid payload',
    details: {
      auth: 'auth must be { ticket, secret }',
      session_auth: 'auth must be { token } or nothing (the session cookie)',
      refresh: 'refresh takes no arguments',
      session: 'expected JSON { code, secret }',
    },
  },
  ORIGIN_NOT_ALLOWED: { status: 403, message: 'origin not allowed' },
  NAMESPACE_NOT_FOUND: { status: 404, message: 'unknown namespace: this gateway serves only /login and /session' },
  TICKET_IN_USE: { status: 409, message: 'this QR code is already open in too many places; reload the page' },
  RATE_LIMITED: {
    status: 429,
    message: 'too many requests from this address; retry in a minute',
    details: {
      tickets: 'too many new tickets from this address; retry in a minute',
      exchanges: 'too many exchanges from this address',
      connections: 'too many open connections from this address',
      resumes: 'too many reconnections from this address; retry in a minute',
      qr_quota: 'the service is handing out too many QR codes right now; retry in a few minutes',
    },
  },
  REFRESH_LIMIT: { status: 429, message: 'too many refreshes on this connection; reload the page' },
  WECHAT_UNAVAILABLE: { status: 503, message: 'could not get a QR code from WeChat; retry shortly' },
  STORE_UNAVAILABLE: {
    status: 503,
    message: 'could not store a new ticket; retry shortly',
    details: {
      session: 'could not reach the login store to exchange this code; retry shortly',
      sessions: 'could not reach the session store; retry shortly',
    },
  },
  SHUTTING_DOWN: { status: 503, message: 'this gateway is shutting down; reconnect' },
  GATEWAY_BUSY: { status: 503, message: 'this gateway is busy with other connections; retry shortly' },
  INVALID_CODE: {
    status: 401,
    message: 'unknown or expired code',
    details: {
      used: 'code already used',
      wrong_browser: 'code does not belong to this browser',
      expired: 'code expired',
    },
  },
  SESSION_INVALID: {
    status: 401,
    message: 'not a valid session token',
    details: { missing: 'no session token: sign in first (cookie qrgate_session or Authorization: Bearer)' },
  },
  SESSION_ENDED: { status: 401, message: 'this session has ended: sign in again' },
  SESSION_NOT_FOUND: { status: 404, message: 'unknown session' },
  INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<ErrorCode, ErrorMeaning>;

/** The situations a code distinguishes (never for a code with one message). */
export type ErrorDetail<C extends ErrorCode> = (typeof ERRORS)[C] extends { details: infer D } ? keyof D & string : never;

/** The words of `code`, for `detail` when given. */
export function errorMessage<C extends ErrorCode>(code: C, detail?: ErrorDetail<C>): string {
  const meaning: ErrorMeaning = ERRORS[code];
  return (detail !== undefined ? meaning.details?.[detail] : undefined) ?? meaning.message;
}

/** The HTTP status of `code`. */
export const errorStatus = (code: ErrorCode): number => ERRORS[code].status;

/**
 * A connection refused before a Socket.IO session exists (engine.io's `allowRequest`) cannot carry a
 * `connect_error` code; the refusal's HTTP body (`{ code, message }`, engine.io's) carries it in its message
 * as `CODE: words`. These two functions are that format's writer and reader.
 */
export const refusalMessage = (code: ErrorCode, words: string): string => `${code}: ${words}`;

/** The catalogue code of an engine.io refusal body (the response text), or undefined when it names none. */
export function refusalCode(body: unknown): ErrorCode | undefined {
  if (typeof body !== 'string' || body === '') return undefined;
  let message: unknown;
  try {
    message = (JSON.parse(body) as { message?: unknown } | null)?.message;
  } catch {
    return undefined;
  }
  const code = typeof message === 'string' ? /^([A-Z_]+): /.exec(message)?.[1] : undefined;
  return code !== undefined && Object.hasOwn(ERRORS, code) ? (code as ErrorCode) : undefined;
}
