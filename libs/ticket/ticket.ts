/**
 * The ticket: one login attempt by one browser, identified by a random id and bound to a secret that only
 * that browser knows. Pure data plus the helpers that make ids, secrets and login codes.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { LoginUser } from '../protocol/index.js';

/**
 * `pending → confirmed → consumed` in `scan` mode; `pending → scanned → confirmed | cancelled` in `tap` mode;
 * `expired` when the TTL passes before confirmation.
 */
export const TICKET_STATUSES = ['pending', 'scanned', 'confirmed', 'consumed', 'cancelled', 'expired'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** The statuses a ticket can still be scanned or confirmed in, and so can still expire. */
const OPEN_STATUSES: ReadonlySet<TicketStatus> = new Set<TicketStatus>(['pending', 'scanned']);

/** True while the ticket can still become a login (and its QR code must still expire on time). */
export const isOpen = (status: TicketStatus): boolean => OPEN_STATUSES.has(status);

/** True for a string naming a status this code knows (what a stored record or a message claims). */
export const isTicketStatus = (value: unknown): value is TicketStatus =>
  typeof value === 'string' && (TICKET_STATUSES as readonly string[]).includes(value);

/** Who asked for the login, shown to the scanner so they can tell whether it was them. */
export interface BrowserContext {
  userAgent: string;
  ip: string;
  /**
   * The origin of the page that asked, when it is another site (one of ALLOWED_ORIGINS); absent for the
   * gateway's own page however it was reached. Its code is redeemed only from the same site, and its session
   * token's `aud` is that origin.
   */
  site?: string;
}

/**
 * The QR code WeChat issued for the ticket: its content, never an image (the gateway draws that when it sends
 * the `ticket` event), so a stored ticket stays a few hundred bytes.
 */
export interface TicketQr {
  /** Content of the QR code. */
  url: string;
  /** WeChat's own ticket for the QR code (compared with the `Ticket` of scan events). */
  wechatTicket: string;
  /**
   * The Official Account (AppID) whose `qrcode/create` issued it: only that account's webhook may scan it, so
   * a webhook with other credentials (the demo's, which are public) sharing the store cannot.
   */
  appId: string;
}

export interface Ticket {
  id: string;
  /** SHA-256 (hex) of the browser's secret; the secret itself is never stored. */
  secretHash: string;
  status: TicketStatus;
  /** Bumped on every change; the stores use it for compare-and-set. */
  version: number;
  createdAt: number;
  /** When a pending or scanned ticket expires, epoch ms. */
  expiresAt: number;
  qr: TicketQr;
  browser: BrowserContext;
  /** The scanning WeChat user, once scanned. */
  openid?: string;
  user?: LoginUser;
  scannedAt?: number;
  confirmedAt?: number;
  consumedAt?: number;
  cancelledAt?: number;
  expiredAt?: number;
  /**
   * Single-use login code, set on confirmation. Stored as is so that any gateway can deliver it after a
   * reconnect; it is worthless without the browser's secret.
   */
  code?: string;
  /** When the unredeemed code stops working, epoch ms. */
  codeExpiresAt?: number;
}

/** Default lifetime of a pending ticket (`TICKET_TTL_SECONDS`). */
export const DEFAULT_TICKET_TTL_SECONDS = 120;
/** Lifetime of an unredeemed login code. */
export const LOGIN_CODE_TTL_SECONDS = 60;
/**
 * How long a ticket outlives its expiry while still open, so that one gateway can record `expired` (once, for
 * the metrics and for browsers that resume) before the store forgets it.
 */
export const EXPIRY_GRACE_SECONDS = 5;
/** How long a finished ticket is kept so a reconnecting browser can still read its outcome. */
export const FINISHED_RETENTION_SECONDS = 60;

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

/** A new ticket id: 128 random bits, URL-safe (22 characters). */
export const newTicketId = (): string => base64url(randomBytes(16));

/** A new browser secret: 256 random bits, URL-safe (43 characters). */
export const newSecret = (): string => base64url(randomBytes(32));

export const hashSecret = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Constant-time check of a secret against a ticket's stored hash. */
export function secretMatches(ticket: Pick<Ticket, 'secretHash'>, secret: string): boolean {
  const given = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(ticket.secretHash, 'hex');
  return given.length === stored.length && timingSafeEqual(given, stored);
}

/** A login code names its ticket so that redeeming it touches one key: `<ticketId>.<128 random bits>`. */
export const newLoginCode = (ticketId: string): string => `${ticketId}.${base64url(randomBytes(16))}`;

/** The ticket id inside a login code, or null when the code is not well formed. */
export function ticketIdOfCode(code: string): string | null {
  const match = /^([A-Za-z0-9_-]{22})\.[A-Za-z0-9_-]{22}$/.exec(code);
  return match?.[1] ?? null;
}

/** Key-value key of a WeChat user's login counter (the scan reply or the confirm page shows "your Nth login"). */
export const loginCountKey = (openid: string): string => `wechat:logins:${openid}`;

/** Constant-time string comparison. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Short, stable, non-reversible name of a ticket id for logs. */
export const ticketLogId = (id: string): string => createHash('sha256').update(id).digest('hex').slice(0, 12);

export interface NewTicketInput {
  id: string;
  secret: string;
  qr: TicketQr;
  browser: BrowserContext;
  now: number;
  ttlSeconds: number;
}

export function newTicket(input: NewTicketInput): Ticket {
  return {
    id: input.id,
    secretHash: hashSecret(input.secret),
    status: 'pending',
    version: 1,
    createdAt: input.now,
    expiresAt: input.now + input.ttlSeconds * 1000,
    qr: input.qr,
    browser: input.browser,
  };
}
