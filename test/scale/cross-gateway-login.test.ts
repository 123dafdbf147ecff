/**
 * Many gateways, many webhooks, one Redis: 300 browsers spread over three gateway processes, each scanned
 * through a randomly chosen webhook process. Every browser logs in exactly once, and the bus carries each
 * ticket change to the one gateway holding its socket: the gateways together receive one message per change,
 * not one per gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScaleCluster, mapLimit, pushScan, type ScaleCluster } from '../support/cluster.js';
import { LoginBrowser, browsersWithoutExactlyOneLogin } from '../support/login-browser.js';
import { BUS_MESSAGES_RECEIVED, SOCKETS_CONNECTED, TICKETS_SCANNED, scrapeMetricEach, sumMetric } from '../support/metrics.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const GATEWAYS = 3;
const WEBHOOKS = 2;
const BROWSERS = 300;

describe('cross-gateway login: 3 gateways, 2 webhooks, 1 Redis', () => {
  let redis: RedisServerHandle | undefined;
  let cluster: ScaleCluster | undefined;
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    cluster = await startScaleCluster({ gateways: GATEWAYS, webhooks: WEBHOOKS, engineEnv: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    try {
      await cluster?.stop();
    } finally {
      await redis?.stop();
    }
  });

  it('logs every browser in once and delivers one bus message per ticket change', async () => {
    const { gateways, webhooks } = cluster!;
    const gatewayUrls = gateways.map((g) => g.url);
    const gatewayMetricsUrls = gateways.map((g) => g.metricsUrl);
    const webhookUrls = webhooks.map((w) => w.url);
    const webhookMetricsUrls = webhooks.map((w) => w.metricsUrl);

    // Round robin over the gateways, as a load balancer would spread them.
    const opened = await mapLimit(
      Array.from({ length: BROWSERS }, (_, i) => i),
      50,
      (i) => LoginBrowser.open(gatewayUrls[i % GATEWAYS]!),
    );
    browsers.push(...opened);
    expect(await scrapeMetricEach(gatewayMetricsUrls, SOCKETS_CONNECTED)).toEqual([100, 100, 100]);

    const busBefore = await scrapeMetricEach(gatewayMetricsUrls, BUS_MESSAGES_RECEIVED);
    const webhookBusBefore = await sumMetric(webhookMetricsUrls, BUS_MESSAGES_RECEIVED);
    const scannedBefore = await sumMetric(webhookMetricsUrls, TICKETS_SCANNED);

    const pushes = await mapLimit(browsers, 25, (browser, i) => {
      const webhook = webhookUrls[Math.floor(Math.random() * WEBHOOKS)]!;
      return pushScan(`${webhook}/wechat`, { scene: browser.ticket.ticket, openid: `o_cross_${i}`, simUrl: cluster!.sim.url });
    });
    expect(pushes.filter((p) => p.status !== 200)).toEqual([]);

    expect(await browsersWithoutExactlyOneLogin(browsers)).toEqual([]);

    const changes = (await sumMetric(webhookMetricsUrls, TICKETS_SCANNED)) - scannedBefore;
    expect(changes).toBe(BROWSERS);
    const busAfter = await scrapeMetricEach(gatewayMetricsUrls, BUS_MESSAGES_RECEIVED);
    const perGateway = busAfter.map((after, i) => after - busBefore[i]!);
    // Each gateway heard only the changes of the tickets it holds sockets for…
    expect(perGateway).toEqual([100, 100, 100]);
    // …so the whole deployment received one message per ticket change, not one per gateway.
    expect(perGateway.reduce((a, b) => a + b, 0)).toBe(changes);
    // The webhooks publish (SPUBLISH on their command connection) and never subscribe.
    expect((await sumMetric(webhookMetricsUrls, BUS_MESSAGES_RECEIVED)) - webhookBusBefore).toBe(0);

    // Any gateway redeems a code issued on another one: the store and the signing key are shared.
    for (const i of [0, 1, 2]) {
      const browser = browsers[i]!;
      const other = gatewayUrls[(i + 1) % GATEWAYS]!;
      const res = await fetch(`${other}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: browser.logins()[0]!.code, secret: browser.ticket.secret }),
      });
      expect(res.status).toBe(200);
    }
  }, 90_000);
});
