/** HTTP contract of the gateway's exchange endpoint. */
import type { ErrorCode } from './events.js';

/** Route that turns a login code into a session. */
export const SESSION_ROUTE = '/api/session';

/** Cookie that carries the session JWT. */
export const SESSION_COOKIE = 'qrgate_session';

/** The caller's sessions (`GET`, `DELETE`); one of them at `/api/sessions/<sid>` (`DELETE`). */
export const SESSIONS_ROUTE = '/api/sessions';

/** How a session began: a scan (`scan` mode), a scan and a tap (`tap` mode), inside WeChat, or an OIDC client. */
export type SessionMethod = 'scan' | 'tap' | 'in_wechat' | 'oidc';

/** Why a session ended: its own page signed out, another of the user's sessions ended it, or it ran out. */
export type SessionEndReason = 'signed_out' | 'revoked' | 'expired';

/** `GET /api/session`: the session the token names, while it is live. */
export interface SessionStatusResponse {
  sub: string;
  sid: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** One of the caller's live sessions. */
export interface SessionSummary {
  sid: string;
  /** Browser and OS, e.g. `Chrome 120 on Windows 10`. */
  browser: string;
  ip: string;
  /** Epoch ms. */
  createdAt: number;
  method: SessionMethod;
  /** The OpenID Connect client, for `method: 'oidc'`. */
  client?: string;
  /** True for the session the request was made with. */
  current: boolean;
}

/** `GET /api/sessions`. */
export interface SessionListResponse {
  sessions: SessionSummary[];
}

export interface SessionRequest {
  code: string;
  secret: string;
}

export interface SessionResponse {
  openid: string;
  /** JWT whose `sub` is the openid. */
  token: string;
}

/** Body of an HTTP error: the message, and the code when the error is one of the protocol's. */
export interface ErrorResponse {
  error: string;
  code?: ErrorCode;
}
