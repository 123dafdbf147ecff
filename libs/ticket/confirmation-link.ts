/**
 * The one-time link a scanner follows to confirm (or refuse) a login in `tap` mode. Pure: signing and
 * verifying only; the gateway keeps the single-use mark and applies the transition.
 *
 * A token is `<ticketId>.<expiresAt>.<mac>` with `mac = HMAC-SHA256(secret, domain | ticketId | openid |
 * expiresAt)`. It binds the ticket and the WeChat user who scanned it without carrying the openid: a link
 * forwarded to someone else reveals nothing about the scanner, and the verifier takes the openid from the
 * stored ticket, so a link minted for one scanner never confirms a ticket another user has scanned.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a confirmation link is bound to. */
export interface ConfirmationClaims {
  ticketId: string;
  /** The WeChat user who scanned the ticket. */
  openid: string;
  /** The ticket's expiry, epoch ms: the link dies with the ticket. */
  expiresAt: number;
}

/** A token's readable part, before its signature is checked against the stored ticket. */
export interface ConfirmationTokenParts {
  ticketId: string;
  expiresAt: number;
}

export type ConfirmationLinkRefusal = 'malformed' | 'bad_signature' | 'expired';

export type ConfirmationLinkCheck = { ok: true; claims: ConfirmationClaims } | { ok: false; reason: ConfirmationLinkRefusal };

/** Path of the gateway's confirmation page. */
export const CONFIRMATION_PATH = '/confirm';

// Separates these MACs from any other use of SESSION_SECRET, and lets a future format coexist.
const DOMAIN = 'qrgate/confirm/v1';
const TOKEN = /^([A-Za-z0-9_-]{22})\.(\d{13})\.([A-Za-z0-9_-]{43})$/;

const mac = (secret: string, claims: ConfirmationClaims): Buffer =>
  createHmac('sha256', secret).update(`${DOMAIN}|${claims.ticketId}|${claims.openid}|${claims.expiresAt}`).digest();

/** The token for a scanned ticket. */
export function signConfirmationToken(claims: ConfirmationClaims, secret: string): string {
  return `${claims.ticketId}.${claims.expiresAt}.${mac(secret, claims).toString('base64url')}`;
}

/**
 * The link the scanner receives: `<publicUrl>/confirm#t=<token>`. The token is in the fragment, which browsers
 * never send: no proxy, access log or Referer ever carries it.
 */
export function confirmationUrl(publicUrl: string, claims: ConfirmationClaims, secret: string): string {
  // Keep a path prefix (a gateway published under https://example.com/login/): resolve relative to it.
  const base = publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`;
  const url = new URL(CONFIRMATION_PATH.replace(/^\//, ''), base);
  url.hash = new URLSearchParams({ t: signConfirmationToken(claims, secret) }).toString();
  return url.toString();
}

/** Which ticket a token names, or null when it is not shaped like a token. Proves nothing on its own. */
export function readConfirmationToken(token: unknown): ConfirmationTokenParts | null {
  if (typeof token !== 'string') return null;
  const match = TOKEN.exec(token);
  if (match === null) return null;
  return { ticketId: match[1]!, expiresAt: Number(match[2]) };
}

/**
 * Check a token against the openid stored with its ticket: signature first (constant time), then expiry, so
 * a forged token is told apart from a genuine one that ran out.
 */
export function verifyConfirmationToken(token: unknown, expected: { openid: string; secret: string; now: number }): ConfirmationLinkCheck {
  const parts = readConfirmationToken(token);
  if (parts === null || typeof token !== 'string') return { ok: false, reason: 'malformed' };
  const claims: ConfirmationClaims = { ...parts, openid: expected.openid };
  // Compared as text, not decoded bytes: base64url's spare bits would let two spellings of one MAC pass.
  const given = Buffer.from(token.slice(token.lastIndexOf('.') + 1));
  const wanted = Buffer.from(mac(expected.secret, claims).toString('base64url'));
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return { ok: false, reason: 'bad_signature' };
  if (expected.now >= claims.expiresAt) return { ok: false, reason: 'expired' };
  return { ok: true, claims };
}
