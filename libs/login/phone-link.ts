/**
 * The link in the scanner's reply to the page of their signed-in browsers (issue 12, "from the phone"). The
 * link names a capability, not the user: `<PUBLIC_URL>/sessions/phone#t=<id>`, where `id` is 256 random bits
 * the webhook stores (`phone-link:<id>` → openid) for {@link PHONE_LINK_TTL_MS}. It is unforgeable and expires
 * with its record, needs no shared secret (so it works in `scan` mode, where SESSION_SECRET is not required),
 * and a forwarded link reveals no openid. The token sits in the fragment, which no request or log carries;
 * the page's script posts it.
 */
import { randomBytes } from 'node:crypto';
import type { KeyValueStore } from '../engine/index.js';

/** The gateway's page of a WeChat user's signed-in browsers. */
export const PHONE_SESSIONS_PATH = '/sessions/phone';

/** How long the link in a reply works. */
export const PHONE_LINK_TTL_MS = 15 * 60 * 1000;

const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const keyOf = (token: string): string => `phone-link:${token}`;

export interface PhoneLinks {
  /** A new link token for `openid`'s sessions page. */
  issue(openid: string): Promise<string>;
  /** The openid a token opens, or null when it is malformed, unknown or expired. */
  resolve(token: unknown): Promise<string | null>;
}

export function createPhoneLinks(kv: KeyValueStore): PhoneLinks {
  return {
    async issue(openid) {
      const token = randomBytes(32).toString('base64url');
      await kv.set(keyOf(token), openid, PHONE_LINK_TTL_MS);
      return token;
    },
    async resolve(token) {
      if (typeof token !== 'string' || !TOKEN.test(token)) return null;
      return kv.get(keyOf(token));
    },
  };
}

/** `<publicUrl>/sessions/phone#t=<token>`, keeping a path prefix of `publicUrl`. */
export function phoneLinkUrl(publicUrl: string, token: string): string {
  const base = publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`;
  const url = new URL(PHONE_SESSIONS_PATH.replace(/^\//, ''), base);
  url.hash = new URLSearchParams({ t: token }).toString();
  return url.toString();
}
