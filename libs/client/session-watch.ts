/**
 * A signed-in page's view of its user's sessions (issue 12): the live socket on the gateway's `/session`
 * namespace (`watchSession`: `onSessionEnded`, `onSessionStarted`) and the HTTP calls to list and end sessions.
 * Authenticated by the session token when given, else by the HttpOnly `qrgate_session` cookie (the gateway's
 * own origin, or a same-site one).
 */
import { io, type Socket } from 'socket.io-client';
// Only the browser-safe modules of the protocol: its index also re-exports the zod schemas.
import { SESSION_NAMESPACE } from '../protocol/events.js';
import type {
  ErrorCode,
  SessionClientToServerEvents,
  SessionEndedPayload,
  SessionServerToClientEvents,
  SessionStartedPayload,
} from '../protocol/events.js';
import { SESSIONS_ROUTE, type ErrorResponse, type SessionListResponse, type SessionSummary } from '../protocol/http.js';

export type { SessionEndedPayload, SessionStartedPayload, SessionSummary };

/** Where the gateway is and how to prove the session. */
export interface SessionClientOptions {
  /** Gateway origin, e.g. `https://login.example.com`. */
  url: string;
  /** The session token (`onLogin`'s `token`). Absent: the `qrgate_session` cookie. */
  token?: string;
}

export interface SessionWatchOptions extends SessionClientOptions {
  /** This page's session ended (signed out here or elsewhere, revoked, expired); the socket is closed. */
  onSessionEnded?(payload: SessionEndedPayload): void;
  /** The same user signed in somewhere else. */
  onSessionStarted?(payload: SessionStartedPayload): void;
  /**
   * The gateway refused the socket: `SESSION_ENDED` (the session is over, e.g. ended while this page was
   * offline), `SESSION_INVALID`, `ORIGIN_NOT_ALLOWED`… The watch stops.
   */
  onRefused?(code: ErrorCode | undefined): void;
}

export interface SessionWatch {
  close(): void;
}

/** A failed sessions call: the gateway's code and message. */
export class SessionApiError extends Error {
  override name = 'SessionApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly code: ErrorCode | undefined,
  ) {
    super(message);
  }
}

/** Codes after which reconnecting cannot help. */
const FINAL = new Set<string>(['SESSION_ENDED', 'SESSION_INVALID', 'ORIGIN_NOT_ALLOWED', 'INVALID_PAYLOAD', 'NAMESPACE_NOT_FOUND']);

/** Connect to `/session` and report what happens to this page's session until `close()`. */
export function watchSession(options: SessionWatchOptions): SessionWatch {
  const socket: Socket<SessionServerToClientEvents, SessionClientToServerEvents> = io(
    `${options.url.replace(/\/+$/, '')}${SESSION_NAMESPACE}`,
    {
      transports: ['websocket', 'polling'],
      withCredentials: options.token === undefined,
      auth: options.token !== undefined ? { token: options.token } : {},
    },
  );
  let over = false;
  socket.on('session_ended', (payload) => {
    over = true;
    socket.close();
    options.onSessionEnded?.(payload);
  });
  socket.on('session_started', (payload) => options.onSessionStarted?.(payload));
  socket.on('connect_error', (err: Error & { data?: { code?: ErrorCode } }) => {
    const code = err.data?.code;
    // Transient (a gateway restarting, the network): Socket.IO keeps trying. Final: stop and say why.
    if (code === undefined || !FINAL.has(code) || over) return;
    over = true;
    socket.close();
    options.onRefused?.(code);
  });
  return {
    close() {
      over = true;
      socket.close();
    },
  };
}

async function call(options: SessionClientOptions, method: 'GET' | 'DELETE', path: string): Promise<Response> {
  const res = await fetch(`${options.url.replace(/\/+$/, '')}${path}`, {
    method,
    credentials: options.token === undefined ? 'include' : 'omit',
    headers: options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {},
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as Partial<ErrorResponse>;
    throw new SessionApiError(body.error ?? `HTTP ${res.status}`, res.status, body.code);
  }
  return res;
}

/** The user's live sessions, oldest first (`current`: this one). */
export async function listSessions(options: SessionClientOptions): Promise<SessionSummary[]> {
  const res = await call(options, 'GET', SESSIONS_ROUTE);
  return ((await res.json()) as SessionListResponse).sessions;
}

/** End one of the user's sessions (this one too); a sid that is not theirs is `SESSION_NOT_FOUND`. */
export async function signOut(options: SessionClientOptions & { sid: string }): Promise<void> {
  await call(options, 'DELETE', `${SESSIONS_ROUTE}/${encodeURIComponent(options.sid)}`);
}

/** End every session of the user, this one included. */
export async function signOutEverywhere(options: SessionClientOptions): Promise<void> {
  await call(options, 'DELETE', SESSIONS_ROUTE);
}
