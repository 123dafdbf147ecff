/**
 * The Socket.IO contract between the browser and a gateway. Names here are public: outside checks and
 * embedding sites drive the product through exactly these strings.
 */

import type { SessionEndReason } from './http.js';

/** Socket.IO namespace of the login flow. */
export const LOGIN_NAMESPACE = '/login';

/**
 * Socket.IO namespace of a signed-in page (issue 12): it connects with `auth: { token }` (or the session
 * cookie) and hears about its user's sessions.
 */
export const SESSION_NAMESPACE = '/session';

/** `session_ended`: this page's session ended; the gateway disconnects the socket right after. */
export interface SessionEndedPayload {
  sid: string;
  reason: SessionEndReason;
}

/** `session_started`: the same user began another session elsewhere. */
export interface SessionStartedPayload {
  sid: string;
  /** Browser and OS, e.g. `Chrome 120 on Windows 10`. */
  browser: string;
  ip: string;
  /** Epoch ms. */
  at: number;
}

export interface SessionServerToClientEvents {
  session_ended: (payload: SessionEndedPayload) => void;
  session_started: (payload: SessionStartedPayload) => void;
}

/** The `/session` namespace takes no messages from the browser. */
export type SessionClientToServerEvents = Record<string, never>;

/** Handshake `auth` on `/session`: the session token (absent: the `qrgate_session` cookie is used). */
export interface SessionHandshakeAuth {
  token?: string;
}

/** Status the browser sees. `consumed` is internal and is shown to the browser as `confirmed`. */
export type WireTicketStatus = 'pending' | 'scanned' | 'confirmed' | 'cancelled' | 'expired';

/** `ticket` event: a new (or resumed) ticket and how to show its QR code. */
export interface TicketPayload {
  /** Ticket id: 128 random bits, base64url. */
  ticket: string;
  /** Secret known only to this browser; needed to resume the ticket and to redeem its login code. */
  secret: string;
  /** Content of the QR code (the `url` WeChat returned). */
  qrUrl: string;
  /** An `https:`, `http:` or `data:` image URL showing the QR code. */
  qrImage: string;
  /** Expiry, epoch milliseconds. */
  expiresAt: number;
}

/** `status` event: the ticket's state changed (or is re-announced after a resume). */
export interface StatusPayload {
  ticket: string;
  status: WireTicketStatus;
  /**
   * The ticket's version this status belongs to (it grows with every change). Absent when the ticket is no
   * longer in the store (announced as `expired`). A browser hands the last one it saw back on resume.
   */
  version?: number;
}

/** Public profile of the WeChat user who logged in, when known. */
export interface LoginUser {
  nickname?: string;
  avatar?: string;
}

/** `login` event: the ticket was confirmed; `code` is single-use and redeemable with the ticket's secret. */
export interface LoginPayload {
  ticket: string;
  code: string;
  user: LoginUser;
  /** The ticket's version that confirmed it; handed back on resume, it stops this `login` being sent again. */
  version: number;
}

/** Error body of a failed acknowledgement. */
export interface AckError {
  error: { code: ErrorCode; message: string };
}

export type RefreshAck = TicketPayload | AckError;

export interface ServerToClientEvents {
  ticket: (payload: TicketPayload) => void;
  status: (payload: StatusPayload) => void;
  login: (payload: LoginPayload) => void;
}

export interface ClientToServerEvents {
  /** Replace this socket's ticket with a new one; the acknowledgement carries the new ticket. */
  refresh: (ack: (result: RefreshAck) => void) => void;
}

/** Handshake `auth` to resume a ticket after a reconnect. Absent: a new ticket is created. */
export interface HandshakeAuth {
  ticket?: string;
  secret?: string;
  /**
   * The last ticket version this browser received (a `status` or `login` `version`). The gateway re-announces
   * only what is newer, so a `login` the browser already got is not sent twice; omitted, everything is.
   */
  version?: number;
  /**
   * The id of this browser's last socket on this ticket (its `socket.id` when it connected). If that socket
   * still holds one of the ticket's two places (its connection died and the gateway has not noticed yet), the
   * place is given to the new socket and the old one is disconnected, so a browser's own dead connections
   * never lock it out with `TICKET_IN_USE`. A name that holds no place changes nothing.
   */
  replaces?: string;
}

/** Codes carried by `connect_error` (`err.data.code`), by acknowledgements and by HTTP error bodies. */
export const ERROR_CODES = [
  'TICKET_NOT_FOUND',
  'TICKET_SECRET_MISMATCH',
  'INVALID_PAYLOAD',
  'ORIGIN_NOT_ALLOWED',
  'NAMESPACE_NOT_FOUND',
  'TICKET_IN_USE',
  'RATE_LIMITED',
  'REFRESH_LIMIT',
  'WECHAT_UNAVAILABLE',
  'STORE_UNAVAILABLE',
  'SHUTTING_DOWN',
  'GATEWAY_BUSY',
  'INVALID_CODE',
  'SESSION_INVALID',
  'SESSION_ENDED',
  'SESSION_NOT_FOUND',
  'INTERNAL',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** `connect_error` data sent by the gateway. */
export interface ConnectErrorData {
  code: ErrorCode;
}
