/**
 * Issue 12, sessions in the store: every session from `POST /api/session` has an id (claim `sid`) and a
 * record; `GET /api/session` says whether a token is still good, `GET /api/sessions` lists the caller's own,
 * and `DELETE /api/sessions[/<sid>]` ends them, after which the token is refused on every gateway. Three
 * gateways on one store: the memory engine (one process), a private Redis, and a private Redis Cluster.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineChoice } from '../../libs/config/index.js';
import { CHROME_ON_MAC, CHROME_ON_WINDOWS } from '../support/fixtures.js';
import { startRedisCluster, startRedisServer } from '../support/redis-server.js';
import { startSessionGateways, type SessionGateways, type SignedIn } from '../support/session-gateways.js';

const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

interface Store {
  choice: EngineChoice;
  stop(): Promise<void>;
}

const stores: Array<[string, () => Promise<Store>]> = [
  ['memory', async () => ({ choice: { kind: 'memory' }, stop: async () => {} })],
  [
    'redis',
    async () => {
      const redis = await startRedisServer();
      return { choice: { kind: 'redis', url: redis.url }, stop: () => redis.stop() };
    },
  ],
  [
    'redis cluster',
    async () => {
      const cluster = await startRedisCluster();
      return { choice: { kind: 'redis-cluster', nodes: cluster.nodes }, stop: () => cluster.stop() };
    },
  ],
];

const bearer = (who: SignedIn): Record<string, string> => ({ authorization: `Bearer ${who.token}` });

async function call(url: string, method: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method, headers });
  const text = await res.text();
  return {
    status: res.status,
    body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>),
    setCookie: res.headers.get('set-cookie'),
  };
}

describe.each(stores)('sessions on %s', (_name, startStore) => {
  let store: Store | undefined;
  let fleet: SessionGateways;
  let url: (gateway: number, path: string) => string;
  let alice1: SignedIn;
  let alice2: SignedIn;
  let bob: SignedIn;

  beforeAll(async () => {
    store = await startStore();
    fleet = await startSessionGateways(store.choice, 3);
    url = (gateway, path) => `${fleet.gateways[gateway]!.url}${path}`;
    alice1 = await fleet.signIn(0, 'o_alice', CHROME_ON_WINDOWS);
    alice2 = await fleet.signIn(1, 'o_alice', CHROME_ON_MAC);
    bob = await fleet.signIn(2, 'o_bob', FIREFOX_ON_LINUX);
  }, 120_000);
  afterAll(async () => {
    try {
      await fleet?.close();
    } finally {
      await store?.stop();
    }
  });

  it('names each session in its token (sid = jti) and answers GET /api/session by Bearer or cookie, on any gateway', async () => {
    const claims = decodeJwt(alice1.token);
    expect(claims.sid).toBe(claims.jti);
    expect(typeof claims.sid).toBe('string');
    for (const gateway of [0, 1, 2]) {
      const byBearer = await call(url(gateway, '/api/session'), 'GET', bearer(alice1));
      expect(byBearer).toMatchObject({ status: 200, body: { sub: 'o_alice', sid: claims.sid, expiresAt: claims.exp! * 1000 } });
      const byCookie = await call(url(gateway, '/api/session'), 'GET', { cookie: alice1.cookie });
      expect(byCookie.body).toEqual(byBearer.body);
    }
  });

  it('refuses a missing, malformed or foreign token with SESSION_INVALID', async () => {
    expect(await call(url(0, '/api/session'), 'GET')).toMatchObject({
      status: 401,
      body: { code: 'SESSION_INVALID', error: expect.stringMatching(/no session token/) },
    });
    expect(await call(url(0, '/api/session'), 'GET', { authorization: 'Basic abc' })).toMatchObject({
      status: 401,
      body: { code: 'SESSION_INVALID', error: 'not a valid session token' },
    });
    const [header, payload] = alice1.token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(86)}`;
    expect(await call(url(0, '/api/sessions'), 'GET', { authorization: `Bearer ${forged}` })).toMatchObject({
      status: 401,
      body: { code: 'SESSION_INVALID' },
    });
  });

  it("lists the caller's own sessions with browser, IP, time and which one is current", async () => {
    const listed = await call(url(2, '/api/sessions'), 'GET', bearer(alice2));
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      sessions: [
        {
          sid: decodeJwt(alice1.token).sid,
          browser: 'Chrome 120 on Windows 10',
          ip: '127.0.0.1',
          createdAt: expect.toSatisfy((at: number) => Math.floor(at / 1000) === decodeJwt(alice1.token).iat),
          method: 'scan',
          current: false,
        },
        {
          sid: decodeJwt(alice2.token).sid,
          browser: 'Chrome 126 on macOS Catalina',
          ip: '127.0.0.1',
          createdAt: expect.toSatisfy((at: number) => Math.floor(at / 1000) === decodeJwt(alice2.token).iat),
          method: 'scan',
          current: true,
        },
      ],
    });
    const bobs = await call(url(0, '/api/sessions'), 'GET', { cookie: bob.cookie });
    expect((bobs.body as { sessions: Array<{ sid: string }> }).sessions.map((s) => s.sid)).toEqual([decodeJwt(bob.token).sid]);
  });

  it("answers another user's session exactly like an unknown one (404) and leaves it alone", async () => {
    const foreign = await call(url(0, `/api/sessions/${String(decodeJwt(bob.token).sid)}`), 'DELETE', bearer(alice1));
    const unknown = await call(url(0, `/api/sessions/${'Z'.repeat(22)}`), 'DELETE', bearer(alice1));
    expect(foreign).toEqual({ status: 404, body: { code: 'SESSION_NOT_FOUND', error: 'unknown session' }, setCookie: null });
    expect(unknown).toEqual(foreign);
    expect((await call(url(1, '/api/session'), 'GET', bearer(bob))).status).toBe(200);
  });

  it('refuses a cross-site DELETE (ORIGIN_NOT_ALLOWED) and ends nothing', async () => {
    const res = await call(url(0, '/api/sessions'), 'DELETE', { cookie: alice1.cookie, origin: 'https://evil.example' });
    expect(res).toMatchObject({ status: 403, body: { code: 'ORIGIN_NOT_ALLOWED' } });
    expect((await call(url(0, '/api/session'), 'GET', bearer(alice1))).status).toBe(200);
  });

  it('signs one browser out from a third gateway: its token is refused everywhere, the other untouched', async () => {
    const sid2 = String(decodeJwt(alice2.token).sid);
    const ended = await call(url(2, `/api/sessions/${sid2}`), 'DELETE', bearer(alice1));
    expect(ended).toMatchObject({ status: 204, setCookie: null });
    for (const gateway of [0, 1, 2]) {
      expect(await call(url(gateway, '/api/session'), 'GET', bearer(alice2))).toMatchObject({
        status: 401,
        body: { code: 'SESSION_ENDED', error: 'this session has ended: sign in again' },
      });
      expect((await call(url(gateway, '/api/session'), 'GET', bearer(alice1))).status).toBe(200);
    }
    // Ending it again is like ending an unknown one; the list no longer shows it.
    expect((await call(url(0, `/api/sessions/${sid2}`), 'DELETE', bearer(alice1))).status).toBe(404);
    const listed = (await call(url(0, '/api/sessions'), 'GET', bearer(alice1))).body as { sessions: Array<{ sid: string }> };
    expect(listed.sessions.map((s) => s.sid)).toEqual([decodeJwt(alice1.token).sid]);
  });

  it('does not revive an ended session through a replay of its exchange (same sid, still refused)', async () => {
    const replayed = await alice2.replay();
    expect(replayed.status).toBe(200);
    expect(decodeJwt(replayed.token).sid).toBe(decodeJwt(alice2.token).sid);
    expect((await call(url(0, '/api/session'), 'GET', { authorization: `Bearer ${replayed.token}` })).body).toMatchObject({
      code: 'SESSION_ENDED',
    });
  });

  it('signs out everywhere: every session of the caller ends and its own cookie is cleared', async () => {
    const alice3 = await fleet.signIn(2, 'o_alice', FIREFOX_ON_LINUX);
    const res = await call(url(1, '/api/sessions'), 'DELETE', { cookie: alice3.cookie });
    expect(res.status).toBe(204);
    expect(res.setCookie).toMatch(/qrgate_session=;/);
    for (const who of [alice1, alice3]) {
      expect((await call(url(0, '/api/session'), 'GET', bearer(who))).body).toMatchObject({ code: 'SESSION_ENDED' });
    }
    expect((await call(url(0, '/api/session'), 'GET', bearer(bob))).status).toBe(200);
  });
});
