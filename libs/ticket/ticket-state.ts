/**
 * The ticket state machine: pure functions from (ticket, event) to the next ticket or a refusal.
 * Stores apply a transition atomically; nothing here does I/O.
 */
import {
  EXPIRY_GRACE_SECONDS,
  FINISHED_RETENTION_SECONDS,
  isOpen,
  LOGIN_CODE_TTL_SECONDS,
  safeEqual,
  secretMatches,
  type Ticket,
  type TicketStatus,
} from './ticket.js';
import type { LoginUser, WireTicketStatus } from '../protocol/index.js';

/** How a scan becomes a login: at once (`scan`) or after the scanner confirms on the phone (`tap`). */
export type ConfirmationMode = 'scan' | 'tap';

export type TicketEvent =
  | { type: 'scan'; openid: string; at: number; mode: ConfirmationMode; code: string; user?: LoginUser }
  | { type: 'confirm'; openid: string; at: number; code: string }
  | { type: 'cancel'; openid: string; at: number }
  /** `site`: the origin redeeming, as `BrowserContext.site` records it (absent: the gateway's own page). */
  | { type: 'consume'; code: string; secret: string; site?: string; at: number }
  | { type: 'expire'; at: number };

export type TransitionRefusal =
  | 'expired'
  | 'already_scanned'
  | 'wrong_user'
  | 'not_scanned'
  | 'not_confirmed'
  | 'code_mismatch'
  | 'secret_mismatch'
  | 'site_mismatch'
  | 'code_expired'
  | 'already_consumed'
  | 'finished';

export type TransitionResult = { ok: true; ticket: Ticket; changed: boolean } | { ok: false; reason: TransitionRefusal; ticket: Ticket };

const done = (ticket: Ticket, patch: Partial<Ticket>): TransitionResult => ({
  ok: true,
  changed: true,
  ticket: { ...ticket, ...patch, version: ticket.version + 1 },
});
const same = (ticket: Ticket): TransitionResult => ({ ok: true, changed: false, ticket });
const refuse = (ticket: Ticket, reason: TransitionRefusal): TransitionResult => ({ ok: false, reason, ticket });

/** Apply one event to a ticket. Never throws; a refusal leaves the ticket as it was. */
export function transition(ticket: Ticket, event: TicketEvent): TransitionResult {
  if (isOpen(ticket.status) && event.at >= ticket.expiresAt && event.type !== 'consume') {
    return event.type === 'expire' ? done(ticket, { status: 'expired', expiredAt: event.at }) : refuse(ticket, 'expired');
  }
  switch (event.type) {
    case 'scan':
      if (ticket.status === 'pending') {
        const scanned = { openid: event.openid, scannedAt: event.at, ...(event.user ? { user: event.user } : {}) };
        return event.mode === 'scan'
          ? done(ticket, { ...scanned, ...confirmation(event.code, event.at), status: 'confirmed' })
          : done(ticket, { ...scanned, status: 'scanned' });
      }
      if (ticket.status === 'expired') return refuse(ticket, 'expired');
      if (ticket.openid !== undefined && ticket.openid !== event.openid) return refuse(ticket, 'already_scanned');
      return ticket.status === 'cancelled' || ticket.status === 'consumed' ? refuse(ticket, 'finished') : same(ticket);
    case 'confirm':
      if (ticket.status !== 'scanned') {
        if (ticket.status === 'confirmed' && ticket.openid === event.openid) return same(ticket);
        return refuse(ticket, ticket.status === 'pending' ? 'not_scanned' : 'finished');
      }
      if (ticket.openid !== event.openid) return refuse(ticket, 'wrong_user');
      return done(ticket, { ...confirmation(event.code, event.at), status: 'confirmed' });
    case 'cancel':
      if (ticket.status !== 'scanned') {
        // The scanner's own refusal again (a tap repeated after an answer that did not arrive): nothing to change.
        if (ticket.status === 'cancelled' && ticket.openid === event.openid) return same(ticket);
        return refuse(ticket, ticket.status === 'pending' ? 'not_scanned' : 'finished');
      }
      if (ticket.openid !== event.openid) return refuse(ticket, 'wrong_user');
      return done(ticket, { status: 'cancelled', cancelledAt: event.at });
    case 'consume':
      if (ticket.status === 'consumed') return refuse(ticket, 'already_consumed');
      if (ticket.status !== 'confirmed' || ticket.code === undefined) return refuse(ticket, 'not_confirmed');
      if (!safeEqual(ticket.code, event.code)) return refuse(ticket, 'code_mismatch');
      if (!secretMatches(ticket, event.secret)) return refuse(ticket, 'secret_mismatch');
      // A code begun on one site is redeemed by that site only: another allowed site cannot take the session.
      if (ticket.browser.site !== event.site) return refuse(ticket, 'site_mismatch');
      if (event.at >= (ticket.codeExpiresAt ?? 0)) return refuse(ticket, 'code_expired');
      return done(ticket, { status: 'consumed', consumedAt: event.at });
    case 'expire':
      return same(ticket);
  }
}

function confirmation(code: string, at: number): Partial<Ticket> {
  return { code, confirmedAt: at, codeExpiresAt: at + LOGIN_CODE_TTL_SECONDS * 1000 };
}

/** Until when a store must keep the ticket (epoch ms): its TTL, then its code's, then a short tail. */
export function retainUntil(ticket: Ticket): number {
  switch (ticket.status) {
    case 'pending':
    case 'scanned':
      return ticket.expiresAt + EXPIRY_GRACE_SECONDS * 1000;
    case 'confirmed':
      return Math.max(ticket.codeExpiresAt ?? 0, ticket.expiresAt);
    default: {
      const finishedAt = ticket.consumedAt ?? ticket.cancelledAt ?? ticket.expiredAt ?? ticket.expiresAt;
      return Math.max(finishedAt, ticket.expiresAt) + FINISHED_RETENTION_SECONDS * 1000;
    }
  }
}

/** The status a browser is shown. */
export function wireStatus(status: TicketStatus): WireTicketStatus {
  return status === 'consumed' ? 'confirmed' : status;
}
