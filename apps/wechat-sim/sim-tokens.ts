/**
 * Access tokens as WeChat issues them (WECHAT.md §1): `/cgi-bin/token` rotates on every call and leaves the
 * previous token usable for 5 minutes; `stable_token` in normal mode hands out the same token until 5 minutes
 * before expiry; `force_refresh` invalidates it, at most once per 30 s. The two families never affect each other.
 */
import { randomBytes } from 'node:crypto';

const LIFETIME_MS = 7_200_000;
/** Stable tokens renew this long before expiry; `/cgi-bin/token` keeps the previous token alive this long. */
const OVERLAP_MS = 300_000;
const FORCE_SPACING_MS = 30_000;
/** Forgotten tokens answer 40001 instead of 42001; keep expired ones around this long to tell them apart. */
const REMEMBER_EXPIRED_MS = 3_600_000;

export interface IssuedToken {
  token: string;
  /** Seconds, as WeChat reports them. */
  expiresIn: number;
}

export type TokenCheck = { ok: true } | { ok: false; errcode: number; errmsg: string };

export interface SimTokens {
  /** `POST /cgi-bin/stable_token`. */
  stable(forceRefresh: boolean): IssuedToken;
  /** `GET /cgi-bin/token`. */
  rotating(): IssuedToken;
  /** Whether a business API accepts this token. */
  check(token: string | undefined): TokenCheck;
  /** Invalidate every token issued so far, as a leaked-token force refresh elsewhere would. */
  revokeAll(): void;
}

interface TokenRecord {
  expiresAt: number;
  revoked: boolean;
}

export function createSimTokens(now: () => number = Date.now): SimTokens {
  const records = new Map<string, TokenRecord>();
  let stable: string | null = null;
  let rotating: string | null = null;
  let lastForce = Number.NEGATIVE_INFINITY;
  let lastPrune = 0;

  function prune(): void {
    const t = now();
    if (t - lastPrune < 1000) return;
    lastPrune = t;
    for (const [token, record] of records) if (record.expiresAt + REMEMBER_EXPIRED_MS < t) records.delete(token);
  }

  function issue(): string {
    prune();
    // Real tokens are long opaque strings; the caller must reserve 512 characters (§1.1).
    const token = `sim_${randomBytes(96).toString('base64url')}`;
    records.set(token, { expiresAt: now() + LIFETIME_MS, revoked: false });
    return token;
  }

  const usable = (token: string | null): token is string => {
    const record = token === null ? undefined : records.get(token);
    return record !== undefined && !record.revoked && record.expiresAt > now();
  };

  const report = (token: string): IssuedToken => ({
    token,
    expiresIn: Math.floor(((records.get(token)?.expiresAt ?? now()) - now()) / 1000),
  });

  return {
    stable(forceRefresh) {
      const t = now();
      if (forceRefresh && usable(stable) && t - lastForce >= FORCE_SPACING_MS) {
        lastForce = t;
        records.get(stable)!.revoked = true;
        stable = issue();
      } else if (!usable(stable) || records.get(stable)!.expiresAt - t < OVERLAP_MS) {
        // The old one stays valid until its own expiry: both work during the overlap.
        stable = issue();
      }
      return report(stable);
    },

    rotating() {
      if (rotating !== null) {
        const previous = records.get(rotating);
        if (previous !== undefined) previous.expiresAt = Math.min(previous.expiresAt, now() + OVERLAP_MS);
      }
      rotating = issue();
      return report(rotating);
    },

    check(token) {
      if (token === undefined || token === '') return { ok: false, errcode: 41001, errmsg: 'access_token missing' };
      const record = records.get(token);
      if (record === undefined || record.revoked) {
        return { ok: false, errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' };
      }
      if (record.expiresAt <= now()) return { ok: false, errcode: 42001, errmsg: 'access_token expired' };
      return { ok: true };
    },

    revokeAll() {
      for (const record of records.values()) record.revoked = true;
      stable = null;
      rotating = null;
    },
  };
}
