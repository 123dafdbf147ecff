/**
 * Issue 12, live push on `/session`: a signed-in page connects with its token (or cookie); when its session
 * ends on any gateway it gets `session_ended { sid, reason }` and is disconnected, and a new sign-in of the
 * same user reaches their other pages as `session_started`. On the memory engine, one gateway (the memory
 * engine is one process; its Socket.IO adapter is the in-memory one); on a private Redis and a private Redis
 * Cluster, three gateways in this process, each on its own connections and the sharded adapter, with the
 * pages and the sign-out on different ones. Waits are generous: this is about delivery, never speed.
 */
import { decodeJwt } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { EngineChoice } from '../../libs/config/index.js';
import { createSessionBook } from '../../libs/login/index.js';
import { CHROME_ON_MAC, CHROME_ON_WINDOWS } from '../support/fixtures.js';
import { startRedisCluster, startRedisServer } from '../support/redis-server.js';
import { SessionPage } from '../support/session-page.js';
import { startSessionGateways, type SessionGateways } from '../support/session-gateways.js';

const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

const stores: Array<[string, () => Promise<{ choice: EngineChoice; gateways: number; stop(): Promise<void> }>]> = [
  ['memory', async () => ({ choice: { kind: 'memory' }, gateways: 1, stop: async () => {} })],
  [
    'redis',
    async () => {
      const redis = await startRedisServer();
      return { choice: { kind: 'redis', url: redis.url }, gateways: 3, stop: () => redis.stop() };
    },
  ],
  [
    'redis cluster',
    async () => {
      const cluster = await startRedisCluster();
      return { choice: { kind: 'redis-cluster', nodes: cluster.nodes }, gateways: 3, stop: () => cluster.stop() };
    },
  ],
];

const sidOf = (token: string): string => String(decodeJwt(token).sid);
const settle = (ms = 500): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(stores)('session push on %s', (_name, startStore) => {
  let store: { stop(): Promise<void> } | undefined;
  let fleet: SessionGateways;
  const pages: SessionPage[] = [];
  const open = async (gateway: number, how: Parameters<typeof SessionPage.open>[1]): Promise<SessionPage> => {
    const page = await SessionPage.open(at(gateway).url, how);
    pages.push(page);
    return page;
  };
  /** Gateway `i` of three (the only one on the memory engine). */
  const at = (i: number) => fleet.gateways[i % fleet.gateways.length]!;
  const signIn = (i: number, openid: string, userAgent: string) => fleet.signIn(i % fleet.gateways.length, openid, userAgent);
  const check = async (gateway: number, token: string): Promise<number> =>
    (await fetch(`${at(gateway).url}/api/session`, { headers: { authorization: `Bearer ${token}` } })).status;

  beforeAll(async () => {
    const started = await startStore();
    store = started;
    fleet = await startSessionGateways(started.choice, started.gateways);
  }, 120_000);
  afterEach(() => {
    for (const page of pages.splice(0)) page.close();
  });
  afterAll(async () => {
    try {
      await fleet?.close();
    } finally {
      await store?.stop();
    }
  });

  it('refuses a missing, bad, malformed or ended token with a connect_error code', async () => {
    await expect(open(0, {})).rejects.toMatchObject({ code: 'SESSION_INVALID' });
    await expect(open(0, { token: 'not.a.jwt' })).rejects.toMatchObject({ code: 'SESSION_INVALID' });
    await expect(open(0, { auth: { token: 42 } })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
    const gone = await signIn(0, 'o_refused', CHROME_ON_WINDOWS);
    const res = await fetch(`${at(1).url}/api/sessions`, { method: 'DELETE', headers: { cookie: gone.cookie } });
    expect(res.status).toBe(204);
    await expect(open(2, { token: gone.token })).rejects.toMatchObject({ code: 'SESSION_ENDED' });
  });

  it('signs one page out from a third gateway: that page gets session_ended and is disconnected, the other is untouched', async () => {
    const first = await signIn(0, 'o_push', CHROME_ON_WINDOWS);
    const second = await signIn(1, 'o_push', CHROME_ON_MAC);
    const page1 = await open(0, { token: first.token });
    const page2 = await open(1, { cookie: second.cookie });
    await settle();

    const res = await fetch(`${at(2).url}/api/sessions/${sidOf(second.token)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${first.token}` },
    });
    expect(res.status).toBe(204);
    await page2.until(() => page2.ended.length > 0 && !page2.connected, 'session_ended on the signed-out page');
    expect(page2.ended).toEqual([{ sid: sidOf(second.token), reason: 'revoked' }]);
    expect(page2.disconnectReason).toMatch(/io server disconnect|transport close/);
    expect(await check(0, second.token)).toBe(401);

    await settle();
    expect(page1.ended).toEqual([]);
    expect(page1.connected).toBe(true);
    expect(await check(1, first.token)).toBe(200);
  });

  it('tells every page of the user, wherever it is, when a session begins elsewhere (and only them)', async () => {
    const a = await signIn(0, 'o_started', CHROME_ON_WINDOWS);
    const b = await signIn(1, 'o_started', CHROME_ON_MAC);
    const other = await signIn(2, 'o_someone_else', CHROME_ON_MAC);
    const pageA = await open(0, { token: a.token });
    const pageB = await open(1, { token: b.token });
    const pageOther = await open(2, { token: other.token });
    await settle();

    const c = await signIn(2, 'o_started', FIREFOX_ON_LINUX);
    const expected = { sid: sidOf(c.token), browser: 'Firefox 128 on Linux', ip: '127.0.0.1', at: expect.any(Number) };
    await pageA.until(() => pageA.started.length > 0, 'session_started on gateway 0');
    await pageB.until(() => pageB.started.length > 0, 'session_started on gateway 1');
    expect(pageA.started).toEqual([expected]);
    expect(pageB.started).toEqual([expected]);
    await settle();
    expect(pageOther.started).toEqual([]);
  });

  it('signs out everywhere: every page of the user ends, the one that asked says signed_out', async () => {
    const a = await signIn(0, 'o_everywhere', CHROME_ON_WINDOWS);
    const b = await signIn(1, 'o_everywhere', CHROME_ON_MAC);
    const pageA = await open(2, { token: a.token });
    const pageB = await open(0, { token: b.token });
    await settle();
    const res = await fetch(`${at(1).url}/api/sessions`, { method: 'DELETE', headers: { cookie: a.cookie } });
    expect(res.status).toBe(204);
    await pageA.until(() => pageA.ended.length > 0 && !pageA.connected, 'session_ended on page A');
    await pageB.until(() => pageB.ended.length > 0 && !pageB.connected, 'session_ended on page B');
    expect(pageA.ended).toEqual([{ sid: sidOf(a.token), reason: 'signed_out' }]);
    expect(pageB.ended).toEqual([{ sid: sidOf(b.token), reason: 'revoked' }]);
  });

  it('refuses a token whose push was lost: the store has it ended, every check and reconnect says so', async () => {
    const lost = await signIn(0, 'o_lost_push', CHROME_ON_WINDOWS);
    const page = await open(1, { token: lost.token });
    // Ended in the store only, as if the gateway that ended it died before it could publish.
    const book = createSessionBook({ kv: at(2).engine.kv });
    expect(await book.end('o_lost_push', sidOf(lost.token), 'revoked')).not.toBeNull();
    await settle();
    expect(page.ended).toEqual([]);
    for (const gateway of [0, 1, 2]) expect(await check(gateway, lost.token)).toBe(401);
    await expect(open(1, { token: lost.token })).rejects.toMatchObject({ code: 'SESSION_ENDED' });
  });
});
