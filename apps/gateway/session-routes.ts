/**
 * The sessions a signed-in page or a relying backend can see and end (issue 12), authenticated by the
 * `qrgate_session` cookie or `Authorization: Bearer <token>`:
 * - `GET /api/session`: `{ sub, sid, expiresAt }` while the token's session is live, 401 once it ended, so a
 *   backend can check a token is still good;
 * - `GET /api/sessions`: the caller's own live sessions;
 * - `DELETE /api/sessions/<sid>`: end one of them (another user's sid is 404, exactly like an unknown one);
 * - `DELETE /api/sessions`: end them all.
 * A token is good only while its record in the store is (`libs/login` session-book.ts): an ended session is
 * refused here even if no push about it ever reached a page.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { SessionBook, SessionRecord } from '../../libs/login/index.js';
import {
  SESSION_COOKIE,
  SESSION_ROUTE,
  SESSIONS_ROUTE,
  type SessionListResponse,
  type SessionStatusResponse,
} from '../../libs/protocol/index.js';
import { GatewayError, orStoreUnavailable } from './gateway-error.js';
import { originAllowed, type GatewaySettings } from './gateway-settings.js';
import { clearSessionCookie } from './session-cookie.js';
import type { SessionSigner } from './session-signer.js';

/** A session id as the gateway makes them (`sessionIdentityOf`: 128 bits, base64url), or an older UUID. */
const SID = /^[A-Za-z0-9_-]{16,64}$/;

export interface SessionRoutesDeps {
  signer: SessionSigner;
  sessions: SessionBook;
  settings: GatewaySettings;
  /** Told of the sessions a request ended, to push `session_ended` to their pages. */
  onSessionsEnded?(records: readonly SessionRecord[]): void;
  now?: () => number;
}

/** The token a request carries: its Bearer header first, else the session cookie. Undefined: none. */
export function tokenOf(authorization: string | undefined, cookie: string | undefined): string | undefined {
  if (authorization !== undefined && authorization !== '') {
    const bearer = /^Bearer ([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization.trim());
    if (bearer === null) throw GatewayError.of('SESSION_INVALID');
    return bearer[1];
  }
  return cookie === undefined || cookie === '' ? undefined : cookie;
}

/**
 * The live session `token` names: `SESSION_INVALID` when there is none or it is not one of ours (or expired),
 * `SESSION_ENDED` when its session was signed out or revoked.
 */
export async function liveSession(
  token: string | undefined,
  deps: { signer: SessionSigner; sessions: SessionBook; now: () => number },
): Promise<SessionRecord> {
  if (token === undefined) throw GatewayError.of('SESSION_INVALID', { detail: 'missing' });
  const verified = await deps.signer.verify(token, deps.now());
  if (verified === null) throw GatewayError.of('SESSION_INVALID');
  const record = await orStoreUnavailable(() => deps.sessions.live(verified.sid, verified.sub), 'sessions');
  if (record === null) throw GatewayError.of('SESSION_ENDED');
  return record;
}

export function mountSessionRoutes(router: Router, deps: SessionRoutesDeps): void {
  const { signer, sessions, settings } = deps;
  const now = deps.now ?? Date.now;

  const caller = (ctx: Context): Promise<SessionRecord> =>
    liveSession(tokenOf(ctx.get('authorization') || undefined, ctx.cookies.get(SESSION_COOKIE)), { signer, sessions, now });

  /** A cross-site page must not end sessions with the cookie its browser sends along. */
  const checkOrigin = (ctx: Context): void => {
    if (!originAllowed(ctx.get('origin') || undefined, ctx.get('host') || undefined, settings)) throw GatewayError.of('ORIGIN_NOT_ALLOWED');
  };

  /** After ending sessions: forget the cookie when the caller's own session is among them. */
  const ended = (ctx: Context, current: SessionRecord, records: readonly SessionRecord[]): void => {
    if (records.length > 0) deps.onSessionsEnded?.(records);
    if (records.some((r) => r.sid === current.sid)) clearSessionCookie(ctx, settings);
    ctx.set('Cache-Control', 'no-store');
    ctx.status = 204;
  };

  router.get(SESSION_ROUTE, async (ctx) => {
    const record = await caller(ctx);
    ctx.set('Cache-Control', 'no-store');
    const body: SessionStatusResponse = { sub: record.sub, sid: record.sid, expiresAt: record.expiresAt };
    ctx.body = body;
  });

  router.get(SESSIONS_ROUTE, async (ctx) => {
    const current = await caller(ctx);
    const list = await orStoreUnavailable(() => sessions.listOf(current.sub), 'sessions');
    ctx.set('Cache-Control', 'no-store');
    const body: SessionListResponse = {
      sessions: list.map((r) => ({
        sid: r.sid,
        browser: `${r.browser} on ${r.os}`,
        ip: r.ip,
        createdAt: r.createdAt,
        method: r.method,
        ...(r.client !== undefined ? { client: r.client } : {}),
        current: r.sid === current.sid,
      })),
    };
    ctx.body = body;
  });

  router.delete(SESSIONS_ROUTE, async (ctx) => {
    checkOrigin(ctx);
    const current = await caller(ctx);
    const records = await orStoreUnavailable(
      () => sessions.endAll(current.sub, (sid) => (sid === current.sid ? 'signed_out' : 'revoked')),
      'sessions',
    );
    ended(ctx, current, records);
  });

  router.delete(`${SESSIONS_ROUTE}/:sid`, async (ctx) => {
    checkOrigin(ctx);
    const current = await caller(ctx);
    const sid = ctx.params['sid'] ?? '';
    const reason = sid === current.sid ? 'signed_out' : 'revoked';
    // Another user's session reads exactly like an unknown one: nothing tells the caller it exists.
    const record = SID.test(sid) ? await orStoreUnavailable(() => sessions.end(current.sub, sid, reason), 'sessions') : null;
    if (record === null) throw GatewayError.of('SESSION_NOT_FOUND');
    ended(ctx, current, [record]);
  });
}
