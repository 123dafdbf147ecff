/**
 * The login through a real load balancer: `haproxy` runs `deploy/haproxy/haproxy.cfg` unchanged in front of
 * three gateways and two webhooks. Browsers that start with long-polling only work if the SERVERID cookie
 * keeps each session on one gateway; WebSocket-only browsers need no stickiness. WeChat's pushes reach the
 * webhooks through the same port (`/wechat`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit, pushScan, startHaproxy, startScaleCluster, type Haproxy, type ScaleCluster } from '../support/cluster.js';
import { eventually } from '../support/engine-contract.js';
import { LoginBrowser, browsersWithoutExactlyOneLogin } from '../support/login-browser.js';
import { BUS_MESSAGES_RECEIVED, SOCKETS_CONNECTED, TICKETS_SCANNED, scrapeMetricEach, sumMetric } from '../support/metrics.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const BROWSERS = 300;

describe('login through HAProxy: sticky polling and WebSocket-only browsers', () => {
  let redis: RedisServerHandle | undefined;
  let cluster: ScaleCluster | undefined;
  let haproxy: Haproxy | undefined;
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    cluster = await startScaleCluster({ gateways: 3, webhooks: 2, engineEnv: { REDIS_URL: redis.url } });
    haproxy = await startHaproxy(cluster);
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
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

  it('balances browsers of both kinds and logs each in once', async () => {
    const { gateways, webhooks } = cluster!;
    const lb = haproxy!.url;
    const gatewayUrls = gateways.map((g) => g.url);
    const gatewayMetricsUrls = gateways.map((g) => g.metricsUrl);

    // Even: WebSocket only. Odd: long-polling first, then upgrade, keeping HAProxy's cookie like a browser.
    const opened = await mapLimit(
      Array.from({ length: BROWSERS }, (_, i) => i),
      20,
      (i) =>
        LoginBrowser.open(
          lb,
          i % 2 === 0 ? { transports: ['websocket'] } : { transports: ['polling', 'websocket'], withCredentials: true },
        ),
    );
    browsers.push(...opened);
    const polling = browsers.filter((_, i) => i % 2 === 1);
    // The sticky cookie kept every polling handshake and its upgrade on one gateway, so they all upgraded.
    await eventually(() => polling.every((b) => b.socket.io.engine.transport.name === 'websocket'));

    const sockets = await scrapeMetricEach(gatewayMetricsUrls, SOCKETS_CONNECTED);
    expect(sockets.reduce((a, b) => a + b, 0)).toBe(BROWSERS);
    // Round robin: every gateway holds a share.
    expect(sockets.every((n) => n > 0)).toBe(true);

    const busBefore = await sumMetric(gatewayMetricsUrls, BUS_MESSAGES_RECEIVED);
    const webhookUrls = webhooks.map((w) => w.url);
    const webhookMetricsUrls = webhooks.map((w) => w.metricsUrl);
    const scannedBefore = await sumMetric(webhookMetricsUrls, TICKETS_SCANNED);

    // WeChat pushes to the public URL; HAProxy spreads them over the webhooks.
    const pushes = await mapLimit(browsers, 20, (browser, i) =>
      pushScan(`${lb}/wechat`, { scene: browser.ticket.ticket, openid: `o_lb_${i}`, simUrl: cluster!.sim.url }),
    );
    expect(pushes.filter((p) => p.status !== 200)).toEqual([]);
    expect((await scrapeMetricEach(webhookMetricsUrls, TICKETS_SCANNED)).every((n) => n > 0)).toBe(true);

    expect(await browsersWithoutExactlyOneLogin(browsers)).toEqual([]);
    const changes = (await sumMetric(webhookMetricsUrls, TICKETS_SCANNED)) - scannedBefore;
    expect(changes).toBe(BROWSERS);
    expect((await sumMetric(gatewayMetricsUrls, BUS_MESSAGES_RECEIVED)) - busBefore).toBe(changes);

    // The code exchange goes through the balancer too, to whichever gateway.
    const first = browsers[0]!;
    const exchanged = await first.exchange(first.logins()[0]!.code);
    expect(exchanged.status).toBe(200);
  }, 90_000);

  it('health-checks /readyz and keeps /metrics off the public port', async () => {
    const lb = haproxy!.url;
    expect((await fetch(`${lb}/readyz`)).status).toBe(200);
    expect((await fetch(`${lb}/metrics`)).status).toBe(404);
    // The sticky cookie HAProxy inserts for a new client names one of the three gateways.
    const page = await fetch(`${lb}/`);
    expect(page.headers.get('set-cookie')).toMatch(/^SERVERID=gw[123];/);
  });
});
