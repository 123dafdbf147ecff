/**
 * The per-user session index (`libs/login/session-book.ts`) holds only sessions that may still be live: a user
 * who signs in every day keeps an index of their live sessions, not of every login they ever made, and
 * listing their sessions reads only those. Over the memory engine with an injected clock, and over a private
 * Redis for the rolling upgrade from gateways that kept a plain set at `sessions:<sub>`.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createMemoryEngine,
  createRedisClients,
  createRedisEngine,
  type Engine,
  type KeyValueStore,
  type RedisClients,
} from '../../libs/engine/index.js';
import { createSessionBook, type BeginSessionInput, type SessionBook } from '../../libs/login/index.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const SUB = 'o_daily_user';
const INDEX = `session-index:${SUB}`;

const sessionOf = (sid: string, createdAt: number, lifeMs: number, sub = SUB): BeginSessionInput => ({
  sid,
  sub,
  userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0',
  ip: '203.0.113.7',
  createdAt,
  expiresAt: createdAt + lifeMs,
  method: 'scan',
});

/** The engine's kv, counting the session records read through it. */
function countingReads(kv: KeyValueStore): { kv: KeyValueStore; recordReads: () => number } {
  let reads = 0;
  return {
    kv: {
      ...kv,
      get: (key) => {
        if (key.startsWith('session:')) reads += 1;
        return kv.get(key);
      },
    },
    recordReads: () => reads,
  };
}

describe('the session index over the memory engine', () => {
  let clock: number;
  let engine: Engine;
  let counted: ReturnType<typeof countingReads>;
  let book: SessionBook;

  beforeEach(() => {
    clock = Date.parse('2026-12-01T08:00:00Z');
    engine = createMemoryEngine({ now: () => clock });
    counted = countingReads(engine.kv);
    book = createSessionBook({ kv: counted.kv, now: () => clock });
    return () => engine.close();
  });

  it('holds only the live sessions of a user who signs in every day, and a listing reads only them', async () => {
    // A year of daily logins, each session lasting three days.
    for (let day = 0; day < 365; day++) {
      await book.begin(sessionOf(`sid-${day}`, clock, 3 * DAY_MS));
      clock += DAY_MS;
    }
    clock -= DAY_MS / 2;
    const live = ['sid-362', 'sid-363', 'sid-364'];
    expect(await engine.kv.expiringMembers(INDEX, clock)).toEqual(live);
    const before = counted.recordReads();
    expect((await book.listOf(SUB)).map((r) => r.sid)).toEqual(live);
    expect(counted.recordReads() - before).toBe(live.length);

    const reads = counted.recordReads();
    expect((await book.endAll(SUB, () => 'revoked')).map((r) => r.sid).sort()).toEqual(live);
    expect(counted.recordReads() - reads).toBe(live.length);
    expect(await engine.kv.expiringMembers(INDEX, clock)).toEqual([]);
  });

  it('lists a replayed session once, and does not index an ended one again', async () => {
    const input = sessionOf('sid-replayed', clock, DAY_MS);
    await book.begin(input);
    await book.begin(input);
    expect((await book.listOf(SUB)).map((r) => r.sid)).toEqual(['sid-replayed']);
    expect(await engine.kv.expiringMembers(INDEX, clock)).toEqual(['sid-replayed']);

    expect(await book.end(SUB, 'sid-replayed', 'signed_out')).toMatchObject({ ended: { reason: 'signed_out' } });
    expect(await engine.kv.expiringMembers(INDEX, clock)).toEqual([]);
    // The replay after the end keeps the ended record, and the index stays empty.
    expect(await book.begin(input)).toMatchObject({ ended: { reason: 'signed_out' } });
    expect(await engine.kv.expiringMembers(INDEX, clock)).toEqual([]);
    expect(await book.listOf(SUB)).toEqual([]);
  });

  it('takes out of the index the ids a listing finds gone, ended elsewhere or of someone else', async () => {
    for (const sid of ['kept', 'deleted', 'ended', 'foreign']) await book.begin(sessionOf(sid, clock, DAY_MS));
    await engine.kv.delete('session:deleted');
    const record = await book.get('ended');
    await engine.kv.set('session:ended', JSON.stringify({ ...record, ended: { at: clock, reason: 'revoked' } }), DAY_MS);
    const foreign = await book.get('foreign');
    await engine.kv.set('session:foreign', JSON.stringify({ ...foreign, sub: 'o_someone_else' }), DAY_MS);

    expect((await book.listOf(SUB)).map((r) => r.sid)).toEqual(['kept']);
    expect(await engine.kv.expiringMembers(INDEX, clock)).toEqual(['kept']);
  });

  it('keeps the index as long as the longest live session, and no longer once that one ends', async () => {
    await book.begin(sessionOf('long', clock, 30 * DAY_MS));
    await book.begin(sessionOf('short', clock, DAY_MS));
    expect(await engine.kv.expiringMembers(INDEX, clock)).toEqual(['short', 'long']);
    await book.end(SUB, 'long', 'signed_out');
    clock += DAY_MS;
    // Read at the start of the day: only the key's own expiry (now the short session's end) empties it.
    expect(await engine.kv.expiringMembers(INDEX, clock - DAY_MS)).toEqual([]);
  });
});

describe('the session index over Redis, during a rolling upgrade', () => {
  let server: RedisServerHandle;
  let clients: RedisClients;
  let engine: Engine;

  beforeAll(async () => {
    server = await startRedisServer();
    clients = createRedisClients({ url: server.url });
    engine = createRedisEngine({ client: clients.client, subscriber: clients.subscriber });
  });
  afterAll(async () => {
    await engine?.close();
    await clients?.quit();
    await server?.stop();
  });

  /** What a gateway before the index began a session with: the record, then a plain set that only grows. */
  const beginOnOldGateway = async (input: BeginSessionInput): Promise<void> => {
    const record = { ...input, browser: 'Chrome 120', os: 'Windows 10', ip: input.ip };
    const ttlMs = input.expiresAt - Date.now();
    await engine.kv.setIfAbsentOrGet(`session:${input.sid}`, JSON.stringify(record), ttlMs);
    await engine.kv.addToSet(`sessions:${input.sub}`, input.sid, ttlMs);
  };

  it('lists and ends the sessions old gateways began, while old gateways keep writing their set', async () => {
    const book = createSessionBook({ kv: engine.kv });
    const t = Date.now();
    await beginOnOldGateway(sessionOf('old-1', t - 2_000, DAY_MS));
    // A new gateway's login and listing, with the old gateways' set (a Redis SET) in place.
    await book.begin(sessionOf('new-1', t - 1_000, DAY_MS));
    await beginOnOldGateway(sessionOf('old-2', t, DAY_MS));
    expect((await book.listOf(SUB)).map((r) => r.sid)).toEqual(['old-1', 'new-1', 'old-2']);
    expect(await engine.kv.expiringMembers(INDEX, Date.now())).toEqual(['new-1']);

    expect((await book.end(SUB, 'old-1', 'signed_out'))?.sid).toBe('old-1');
    expect((await book.endAll(SUB, () => 'revoked')).map((r) => r.sid).sort()).toEqual(['new-1', 'old-2']);
    expect(await book.listOf(SUB)).toEqual([]);
    expect(await engine.kv.expiringMembers(INDEX, Date.now())).toEqual([]);
    // The old set is read, never rewritten: an old gateway still adds to it.
    await beginOnOldGateway(sessionOf('old-3', Date.now(), DAY_MS));
    expect((await book.listOf(SUB)).map((r) => r.sid)).toEqual(['old-3']);
  });
});
