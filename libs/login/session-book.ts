/**
 * The sessions a user can see and end (issue 12): one record per session, kept in the engine's `kv` until
 * the session's token expires, and one index per user listing their session ids.
 *
 * Layout (every operation touches one key, so nothing is multi-slot on Redis Cluster):
 * - `session:<sid>`     the record as JSON, expiring with the token; an ended session keeps its record (with
 *   `ended`) until then, so its token is refused wherever it is checked, whether or not a push arrived;
 * - `session-index:<sub>` the user's session ids, an expiring set (`addExpiring`) in which each id lives until
 *   its session's `expiresAt`: lapsed ids drop out on every add and read, and an id whose record `listOf`,
 *   `end` or `endAll` finds gone, ended or expired is taken out, so the index holds only sessions that may
 *   still be live and a listing reads only them. The key lives as long as the user's longest live session.
 * - `sessions:<sub>`    what gateways before it kept instead: a plain set that only grew, extended by every
 *   login. Still read (never written) alongside the index, so a rolling upgrade lists and ends the sessions
 *   the old gateways began; it expires by itself once no old gateway extends it. A new key rather than a
 *   migration in place: an old gateway's SADD on a key turned into a sorted set would fail its logins.
 *
 * `begin` is idempotent (set-if-absent): a replayed code exchange names the same session (its id comes from
 * the consumption, `sessionIdentityOf`), so it neither duplicates a session nor revives an ended one.
 */
import type { KeyValueStore } from '../engine/index.js';
import type { SessionEndReason, SessionMethod } from '../protocol/index.js';
import { sessionIdentityOf, type Ticket } from '../ticket/index.js';
import { describeBrowser, displayIp } from './requester.js';

export type { SessionEndReason, SessionMethod };

export interface SessionRecord {
  sid: string;
  /** The user (the token's `sub`, the openid). */
  sub: string;
  /** Browser and OS as `describeBrowser` names them, e.g. `Chrome 120`, `Windows 10`. */
  browser: string;
  os: string;
  /** The browser's IP when the session began (or "unknown"). */
  ip: string;
  /** Epoch ms. */
  createdAt: number;
  /** When the token expires, epoch ms; the record goes then too. */
  expiresAt: number;
  method: SessionMethod;
  /** The OIDC client, for `method: 'oidc'`. */
  client?: string;
  /** For `method: 'oidc'`: the provider's own session (its `uid`), ended with this one. */
  providerSession?: string;
  /** Set once the session was ended before its expiry. */
  ended?: { at: number; reason: SessionEndReason };
}

export interface BeginSessionInput {
  sid: string;
  sub: string;
  userAgent: string;
  ip: string;
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number;
  method: SessionMethod;
  client?: string;
  providerSession?: string;
}

/**
 * The session a consumed ticket's exchange begins: its id and times from `sessionIdentityOf` (so a replay is
 * the same session), the browser that opened the login page, and how it was confirmed.
 */
export function sessionOfTicket(
  ticket: Ticket,
  input: { sub: string; ttlSeconds: number; method?: SessionMethod },
): BeginSessionInput & { issuedAt: number } {
  const identity = sessionIdentityOf(ticket);
  // `scan` mode confirms at the scan itself; in `tap` mode the confirmation is a later tap.
  const tapped = ticket.confirmedAt !== undefined && ticket.scannedAt !== undefined && ticket.confirmedAt !== ticket.scannedAt;
  return {
    sid: identity.id,
    issuedAt: identity.issuedAt,
    sub: input.sub,
    userAgent: ticket.browser.userAgent,
    ip: ticket.browser.ip,
    // The consumption to the millisecond (the token's `iat` is whole seconds), so sessions list in order.
    createdAt: ticket.consumedAt ?? identity.issuedAt * 1000,
    expiresAt: (identity.issuedAt + input.ttlSeconds) * 1000,
    method: input.method ?? (tapped ? 'tap' : 'scan'),
  };
}

export interface SessionBook {
  /** Record a session (idempotent: the record already there, ended or not, is kept and returned). */
  begin(input: BeginSessionInput): Promise<SessionRecord>;
  /** The record as stored, live or ended; null when unknown or expired. */
  get(sid: string): Promise<SessionRecord | null>;
  /** The session while it is live: known, not ended, not expired, and `sub`'s. Null otherwise. */
  live(sid: string, sub: string): Promise<SessionRecord | null>;
  /** `sub`'s live sessions, oldest first. */
  listOf(sub: string): Promise<SessionRecord[]>;
  /** End one of `sub`'s live sessions; null when it is unknown, another user's, or over already. */
  end(sub: string, sid: string, reason: SessionEndReason): Promise<SessionRecord | null>;
  /** End every live session of `sub`, each for the reason `reasonOf` gives; returns those it ended. */
  endAll(sub: string, reasonOf: (sid: string) => SessionEndReason): Promise<SessionRecord[]>;
}

const recordKey = (sid: string): string => `session:${sid}`;
const indexKey = (sub: string): string => `session-index:${sub}`;
const legacyIndexKey = (sub: string): string => `sessions:${sub}`;

function parseRecord(raw: string | null): SessionRecord | null {
  if (raw === null) return null;
  try {
    const value = JSON.parse(raw) as SessionRecord;
    return typeof value.sid === 'string' && typeof value.sub === 'string' && typeof value.expiresAt === 'number' ? value : null;
  } catch {
    return null;
  }
}

export function createSessionBook(deps: { kv: KeyValueStore; now?: () => number }): SessionBook {
  const { kv } = deps;
  const now = deps.now ?? Date.now;
  const isLive = (record: SessionRecord | null, at: number): record is SessionRecord =>
    record !== null && record.ended === undefined && record.expiresAt > at;

  const read = async (sid: string): Promise<SessionRecord | null> => parseRecord(await kv.get(recordKey(sid)));

  /** End the record only; the caller takes the id out of the index. */
  const endRecord = async (sub: string, sid: string, reason: SessionEndReason): Promise<SessionRecord | null> => {
    const at = now();
    const record = await read(sid);
    if (!isLive(record, at) || record.sub !== sub) return null;
    const ended: SessionRecord = { ...record, ended: { at, reason } };
    await kv.set(recordKey(sid), JSON.stringify(ended), record.expiresAt - at);
    return ended;
  };

  /** The ids `sub`'s sessions may have: `indexed` from the index, and all of them with the legacy set's. */
  const idsOf = async (sub: string, at: number): Promise<{ indexed: string[]; all: string[] }> => {
    const [indexed, legacy] = await Promise.all([kv.expiringMembers(indexKey(sub), at), kv.setMembers(legacyIndexKey(sub))]);
    return { indexed, all: [...new Set([...indexed, ...legacy])] };
  };

  return {
    async begin(input) {
      const { browser, os } = describeBrowser(input.userAgent);
      const record: SessionRecord = {
        sid: input.sid,
        sub: input.sub,
        browser,
        os,
        ip: displayIp(input.ip),
        createdAt: input.createdAt,
        expiresAt: input.expiresAt,
        method: input.method,
        ...(input.client !== undefined ? { client: input.client } : {}),
        ...(input.providerSession !== undefined ? { providerSession: input.providerSession } : {}),
      };
      const at = now();
      const ttlMs = Math.max(1, input.expiresAt - at);
      const stored = parseRecord(await kv.setIfAbsentOrGet(recordKey(input.sid), JSON.stringify(record), ttlMs)) ?? record;
      // Indexed after the record, so a listed id always has one (a crash in between leaves an unlisted
      // session, which its replayed exchange lists). Once: a replay adds the same id with the same end. A
      // replay of an ended or expired session is not indexed again.
      if (isLive(stored, at)) await kv.addExpiring(indexKey(stored.sub), stored.sid, stored.expiresAt, at);
      return stored;
    },

    get: read,

    async live(sid, sub) {
      const record = await read(sid);
      return isLive(record, now()) && record.sub === sub ? record : null;
    },

    async listOf(sub) {
      const at = now();
      const { indexed, all } = await idsOf(sub, at);
      const records = await Promise.all(all.map(read));
      const live = records.filter((r): r is SessionRecord => isLive(r, at) && r.sub === sub);
      const liveIds = new Set(live.map((r) => r.sid));
      await kv.removeExpiring(
        indexKey(sub),
        indexed.filter((sid) => !liveIds.has(sid)),
        at,
      );
      return live.sort((a, b) => a.createdAt - b.createdAt || a.sid.localeCompare(b.sid));
    },

    async end(sub, sid, reason) {
      const ended = await endRecord(sub, sid, reason);
      if (ended !== null) await kv.removeExpiring(indexKey(sub), [sid], now());
      return ended;
    },

    async endAll(sub, reasonOf) {
      const at = now();
      const { indexed, all } = await idsOf(sub, at);
      const ended = await Promise.all(all.map((sid) => endRecord(sub, sid, reasonOf(sid))));
      // Every id read is over now: ended here, or gone, ended or expired already.
      await kv.removeExpiring(indexKey(sub), indexed, at);
      return ended.filter((r): r is SessionRecord => r !== null);
    },
  };
}
