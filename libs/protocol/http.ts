/** HTTP contract of the gateway's exchange endpoint. */
import type { ErrorCode } from './events.js';

/** Route that turns a login code into a session. */
export const SESSION_ROUTE = '/api/session';

/** Cookie that carries the session JWT. */
export const SESSION_COOKIE = 'qrgate_session';

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
