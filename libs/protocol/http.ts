/** HTTP contract of the gateway's exchange endpoint. */

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

export interface ErrorResponse {
  error: string;
  code?: string;
}
