/**
 * Graceful drain behind HAProxy: SIGTERM a gateway that holds 100 waiting browsers. It stops accepting
 * connections and fails its health check, closes each socket's transport, waits for the sockets to leave,
 * closes Redis and exits 0. The browsers reconnect by themselves, HAProxy sends them to the other gateways
 * (redispatch: the cookie that pins them names a gateway that is gone), they resume their tickets, and they
 * still log in when scanned.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit, pushScan, startHaproxy, startScaleCluster, type Haproxy, type ScaleCluster } from '../support/cluster.js';
import { eventually } from '../support/engine-contract.js';
import { LoginBrowser } from '../support/login-browser.js';
import { SOCKETS_CONNECTED, scrapeMetric, scrapeMetricEach } from '../support/metrics.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const PINNED = 100;
const SPREAD = 30;
const SHUTDOWN_TIMEOUT_MS = 10_000;

describe('graceful drain of a gateway behind HAProxy', () => {
  let redis: RedisServerHandle | undefined;
  let cluster: ScaleCluster | undefined;
  let haproxy: Haproxy | undefined;
  const browsers: LoginBrowser[] = [];
  const idle: Socket[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    cluster = await startScaleCluster({
      gateways: 3,
      webhooks: 2,
      engineEnv: { REDIS_URL: redis.url },
      // `info` so the gateway's "drained" line (with the sockets that did not leave) can be read.
      gatewayEnv: { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), LOG_LEVEL: 'info' },
    });
    haproxy = await startHaproxy(cluster);
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    for (const socket of idle) socket.destroy();
    try {
      await haproxy?.stop();
    } finally {
      try {
        await cluster?.stop();
      } finally {
        await redis?.stop();
      }
    }
  });

  it('moves every waiting browser to another gateway, where it resumes and logs in', async () => {
    const lb = haproxy!.url;
    const [draining, ...survivors] = cluster!.gateways;

    // 100 WebSocket browsers whose sticky cookie names gw1 (the first gateway)…
    const pinned = await mapLimit(
      Array.from({ length: PINNED }, (_, i) => i),
      25,
      () => LoginBrowser.open(lb, { transports: ['websocket'], extraHeaders: { cookie: 'SERVERID=gw1' }, reconnection: true }),
    );
    browsers.push(...pinned);
    // …and some long-polling-then-upgrade browsers balanced round robin, keeping HAProxy's cookie in a jar.
    const spread = await mapLimit(
      Array.from({ length: SPREAD }, (_, i) => i),
      10,
      () => LoginBrowser.open(lb, { transports: ['polling', 'websocket'], withCredentials: true, reconnection: true }),
    );
    browsers.push(...spread);
    const onDraining = await scrapeMetric(draining!.metricsUrl, SOCKETS_CONNECTED);
    expect(onDraining).toBeGreaterThanOrEqual(PINNED);
    const tickets = browsers.map((b) => b.ticket.ticket);
    // A connection that has sent nothing yet, as a load balancer's pre-connect: it must not hold the exit.
    idle.push(await openIdleConnection(draining!.port));

    const exitCode = await draining!.stop('SIGTERM', SHUTDOWN_TIMEOUT_MS + 15_000);
    // 0 only when the drain finished before the hard deadline (which exits 1).
    expect(exitCode).toBe(0);
    const drained = draining!
      .output()
      .split('\n')
      .find((line) => line.includes('"msg":"drained"'));
    expect(drained, draining!.output().slice(-2_000)).toBeDefined();
    expect(JSON.parse(drained!)).toMatchObject({ remaining: 0 });

    // Every browser is connected again, on a surviving gateway, holding the ticket it had.
    await eventually(async () => {
      if (!browsers.every((b) => b.socket.connected)) return false;
      const counts = await scrapeMetricEach(
        survivors.map((g) => g.metricsUrl),
        SOCKETS_CONNECTED,
      );
      return counts.reduce((a, b) => a + b, 0) === browsers.length;
    }, 30_000);
    browsers.forEach((browser, i) => {
      const announced = browser.events.flatMap((e) => (e.type === 'ticket' ? [e.payload.ticket] : []));
      expect(new Set(announced)).toEqual(new Set([tickets[i]]));
    });
    // The pinned ones were told their ticket again by the gateway they resumed on.
    for (const browser of pinned) expect(browser.events.filter((e) => e.type === 'ticket').length).toBeGreaterThanOrEqual(2);

    const pushes = await mapLimit(browsers, 20, (browser, i) =>
      pushScan(`${lb}/wechat`, { scene: browser.ticket.ticket, openid: `o_drain_${i}`, simUrl: cluster!.sim.url }),
    );
    expect(pushes.filter((p) => p.status !== 200)).toEqual([]);
    await Promise.all(browsers.map((browser) => browser.waitFor('login', undefined, 30_000)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const browser of browsers) expect(browser.logins()).toHaveLength(1);
  }, 90_000);

  it('lets a webhook finish and exit 0 while the other one takes the pushes', async () => {
    const [leaving, staying] = cluster!.webhooks;
    idle.push(await openIdleConnection(leaving!.port));
    expect(await leaving!.stop('SIGTERM', 30_000)).toBe(0);

    const browser = await LoginBrowser.open(haproxy!.url);
    browsers.push(browser);
    // HAProxy retries a refused push on the remaining webhook.
    const pushed = await pushScan(`${haproxy!.url}/wechat`, {
      scene: browser.ticket.ticket,
      openid: 'o_drain_webhook',
      simUrl: cluster!.sim.url,
    });
    expect(pushed.status).toBe(200);
    await browser.waitFor('login');
    expect(staying!.child.exitCode).toBeNull();
  }, 60_000);
});

/** A TCP connection to `port` that sends nothing. */
async function openIdleConnection(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}
