/**
 * Idempotent replay of a code exchange. A gateway can consume a login code and die (or lose the connection)
 * before its answer reaches the browser; the browser's retry then finds the ticket `consumed`. If the retry
 * carries the same code AND the browser's secret, shortly after the consumption, it is the same request
 * again and gets the same result: the one session that consumption created (same subject, session id, issue
 * and expiry time; see {@link sessionIdentityOf}), never a second one. Anyone without the secret, and the
 * browser itself once the grace has passed, is still refused as "code already used". Pure.
 */
import { createHash } from 'node:crypto';
import { safeEqual, secretMatches, type Ticket } from './ticket.js';

/**
 * How long after a consumption its exchange may be replayed: covers every retry of the client (at most 52.5 s,
 * libs/client/exchange-retry.ts), and ends before the finished ticket leaves the store (FINISHED_RETENTION_SECONDS).
 */
export const REDEEM_REPLAY_SECONDS = 55;

/** True when `code` + `secret` from `site` at `at` is a replay of the exchange that consumed `ticket`. */
export function isRedeemReplay(ticket: Ticket, code: string, secret: string, site: string | undefined, at: number): boolean {
  if (ticket.status !== 'consumed' || ticket.code === undefined || ticket.consumedAt === undefined) return false;
  if (at >= ticket.consumedAt + REDEEM_REPLAY_SECONDS * 1000) return false;
  // Only the site that redeemed it (the one the session's `aud` names) may replay it.
  return safeEqual(ticket.code, code) && secretMatches(ticket, secret) && ticket.browser.site === site;
}

/** What makes a session the same one: its id (JWT `jti`) and issue time, fixed by the consumption. */
export interface SessionIdentity {
  /** 128 bits derived from the login code (unguessable without it, not reversible to it), base64url. */
  id: string;
  /** The consumption's time, epoch seconds (JWT `iat`; `exp` follows from it). */
  issuedAt: number;
}

/** The identity of the session a consumed ticket's exchange creates; every replay yields the same. */
export function sessionIdentityOf(ticket: Ticket): SessionIdentity {
  const code = ticket.code ?? '';
  const id = createHash('sha256').update(`qrgate session\0${code}`).digest().subarray(0, 16).toString('base64url');
  return { id, issuedAt: Math.floor((ticket.consumedAt ?? ticket.confirmedAt ?? ticket.createdAt) / 1000) };
}
