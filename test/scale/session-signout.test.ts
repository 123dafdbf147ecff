/**
 * Issue 12's done-when, with separate processes: three gateways (and a webhook) on one private Redis, then on a
 * private Redis Cluster. Two browsers of one user sign in on different gateways and keep a page open on
 * `/session`; one signs the other out from the third gateway. That page gets `session_ended` and is
 * disconnected, its token is refused by `GET /api/session` on every gateway, and the other page is untouched.
 * A token whose push was lost (ended in the store alone) is refused all the same. No speed threshold: the
 * waits are generous; what is checked is that the message arrives and the store decides.
 */
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionBook } from '../../libs/login/index.js';
import { createEngine, type ConfiguredEngine } from '../../libs/runtime/index.js';
import type { EngineChoice } from '../../libs/config/index.js';
import { pushScan, startScaleCluster, type ScaleCluster } from '../support/cluster.js';
import { CHROME_ON_MAC, CHROME_ON_WINDOWS } from '../support/fixtures.js';
import { LoginBrowser } from '../support/login-browser.js';
import { startRedisCluster, startRedisServer } from '../support/redis-server.js';
import { SessionPage } from '../support/session-page.js';

interface Store {
  engineEnv: Record<string, string>;
  choice: EngineChoice;
  stop(): Promise<void>;
}

const stores: Array<[string, () => Promise<Store>]> = [
  [
    'redis',
    async () => {
      const redis = await startRedisServer();
      return { engineEnv: { REDIS_URL: redis.url }, choice: { kind: 'redis', url: redis.url }, stop: () => redis.stop() };
    },
  ],
  [
    'redis cluster',
    async () => {
      const cluster = await startRedisCluster();
      return {
        engineEnv: { REDIS_CLUSTER_NODES: cluster.nodes.join(',') },
        choice: { kind: 'redis-cluster', nodes: cluster.nodes },
        stop: () => cluster.stop(),
      };
    },
  ],
];

const sidOf = (token: string): string => String(decodeJwt(token).sid);

describe.each(stores)('signing a browser out across gateway processes on %s', (_name, startStore) => {
  let store: Store | undefined;
  let fleet: ScaleCluster | undefined;
  const pages: SessionPage[] = [];

  beforeAll(async () => {
    store = await startStore();
    fleet = await startScaleCluster({ gateways: 3, webhooks: 1, engineEnv: store.engineEnv });
  }, 120_000);
  afterAll(async () => {
    for (const page of pages) page.close();
    try {
      await fleet?.stop();
    } finally {
      await store?.stop();
    }
  });

  /** A browser signs `openid` in on gateway `gateway` (scan pushed to the webhook) and opens its `/session` page. */
  async function signIn(gateway: number, openid: string, userAgent: string): Promise<{ token: string; page: SessionPage }> {
    const url = fleet!.gateways[gateway]!.url;
    const browser = await LoginBrowser.open(url, { extraHeaders: { 'user-agent': userAgent } });
    try {
      const pushed = await pushScan(`${fleet!.webhooks[0]!.url}/wechat`, { scene: browser.ticket.ticket, openid, simUrl: fleet!.sim.url });
      expect(pushed.status).toBe(200);
      const { code } = await browser.waitFor('login');
      const exchanged = await browser.exchange(code);
      expect(exchanged.status).toBe(200);
      const page = await SessionPage.open(url, { token: exchanged.body.token });
      pages.push(page);
      return { token: exchanged.body.token, page };
    } finally {
      browser.close();
    }
  }

  const check = async (gateway: number, token: string): Promise<number> =>
    (await fetch(`${fleet!.gateways[gateway]!.url}/api/session`, { headers: { authorization: `Bearer ${token}` } })).status;

  it('ends the page signed out from a third gateway, refuses its token everywhere, and leaves the other page alone', async () => {
    const kept = await signIn(0, 'o_two_browsers', CHROME_ON_WINDOWS);
    const signedOut = await signIn(1, 'o_two_browsers', CHROME_ON_MAC);
    // The first page hears that the user signed in elsewhere (gateway 1 announced it).
    await kept.page.until(() => kept.page.started.length > 0, 'session_started on gateway 0', 30_000);
    expect(kept.page.started[0]).toMatchObject({ sid: sidOf(signedOut.token), browser: 'Chrome 126 on macOS Catalina' });

    const listed = await fetch(`${fleet!.gateways[2]!.url}/api/sessions`, { headers: { authorization: `Bearer ${kept.token}` } });
    const sessions = ((await listed.json()) as { sessions: Array<{ sid: string; current: boolean }> }).sessions;
    expect(sessions.map((s) => [s.sid, s.current])).toEqual([
      [sidOf(kept.token), true],
      [sidOf(signedOut.token), false],
    ]);

    const signOutAt = Date.now();
    const res = await fetch(`${fleet!.gateways[2]!.url}/api/sessions/${sidOf(signedOut.token)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${kept.token}` },
    });
    expect(res.status).toBe(204);
    await signedOut.page.until(() => signedOut.page.ended.length > 0 && !signedOut.page.connected, 'session_ended on gateway 1', 30_000);
    expect(signedOut.page.ended).toEqual([{ sid: sidOf(signedOut.token), reason: 'revoked' }]);
    // Reported, not asserted (issue 12 asks for a second; a shared machine's timing is no test).
    process.stdout.write(
      `session_ended reached the page on gateway 1 ${signedOut.page.endedAt[0]! - signOutAt} ms after the DELETE on gateway 2\n`,
    );
    for (const gateway of [0, 1, 2]) {
      expect(await check(gateway, signedOut.token)).toBe(401);
      expect(await check(gateway, kept.token)).toBe(200);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(kept.page.ended).toEqual([]);
    expect(kept.page.connected).toBe(true);
  });

  it('refuses a token whose push was lost: ended in the store alone, no page was told', async () => {
    const lost = await signIn(2, 'o_lost_push', CHROME_ON_WINDOWS);
    let engine: ConfiguredEngine | undefined;
    try {
      engine = createEngine(store!.choice);
      const ended = await createSessionBook({ kv: engine.engine.kv }).end('o_lost_push', sidOf(lost.token), 'revoked');
      expect(ended).not.toBeNull();
    } finally {
      await engine?.close();
    }
    for (const gateway of [0, 1, 2]) expect(await check(gateway, lost.token)).toBe(401);
    expect(lost.page.ended).toEqual([]);
    await expect(SessionPage.open(fleet!.gateways[0]!.url, { token: lost.token })).rejects.toMatchObject({ code: 'SESSION_ENDED' });
  });
});
