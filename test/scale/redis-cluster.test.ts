/**
 * The cross-gateway login on a private six-node Redis Cluster (`REDIS_CLUSTER_NODES`): separate gateway and
 * webhook processes keep tickets in the cluster and ring each ticket's sharded channel on the master owning its
 * slot. Every browser logs in once and the gateways receive exactly one bus message per ticket change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScaleCluster, mapLimit, pushScan, type ScaleCluster } from '../support/cluster.js';
import { LoginBrowser, browsersWithoutExactlyOneLogin } from '../support/login-browser.js';
import { BUS_MESSAGES_RECEIVED, SOCKETS_CONNECTED, TICKETS_SCANNED, scrapeMetricEach, sumMetric } from '../support/metrics.js';
import { startRedisCluster, type RedisClusterHandle } from '../support/redis-server.js';

const GATEWAYS = 3;
const WEBHOOKS = 2;
const BROWSERS = 300;

describe('cross-gateway login on a Redis Cluster: 3 gateways, 2 webhooks, 300 browsers', () => {
  let redis: RedisClusterHandle | undefined;
  let cluster: ScaleCluster | undefined;
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    redis = await startRedisCluster();
    cluster = await startScaleCluster({
      gateways: GATEWAYS,
      webhooks: WEBHOOKS,
      engineEnv: { REDIS_CLUSTER_NODES: redis.nodes.join(',') },
    });
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    try {
      await cluster?.stop();
    } finally {
      await redis?.stop();
    }
  });

  it('runs the gateways and the webhook on the cluster', async () => {
    for (const app of [...cluster!.gateways, ...cluster!.webhooks]) {
      expect(app.output()).not.toMatch(/connection error|MOVED|CROSSSLOT/);
      expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
    }
  });

  it('logs every browser in once with one bus message per ticket change', async () => {
    const { gateways, webhooks } = cluster!;
    const gatewayUrls = gateways.map((g) => g.url);
    const gatewayMetricsUrls = gateways.map((g) => g.metricsUrl);
    const webhookUrls = webhooks.map((w) => w.url);
    const webhookMetricsUrls = webhooks.map((w) => w.metricsUrl);

    const opened = await mapLimit(
      Array.from({ length: BROWSERS }, (_, i) => i),
      30,
      (i) => LoginBrowser.open(gatewayUrls[i % GATEWAYS]!),
    );
    browsers.push(...opened);
    expect(await scrapeMetricEach(gatewayMetricsUrls, SOCKETS_CONNECTED)).toEqual([100, 100, 100]);
    // 300 random ids hash to slots on all three masters, so every shard carries some of the doorbells.
    expect(new Set(browsers.map((b) => b.ticket.ticket)).size).toBe(BROWSERS);

    const busBefore = await scrapeMetricEach(gatewayMetricsUrls, BUS_MESSAGES_RECEIVED);
    const scannedBefore = await sumMetric(webhookMetricsUrls, TICKETS_SCANNED);

    // Each scan reaches a random webhook, as WeChat's pushes would behind a balancer.
    const pushes = await mapLimit(browsers, 20, (browser, i) =>
      pushScan(`${webhookUrls[Math.floor(Math.random() * WEBHOOKS)]!}/wechat`, {
        scene: browser.ticket.ticket,
        openid: `o_cluster_${i}`,
        simUrl: cluster!.sim.url,
      }),
    );
    expect(pushes.filter((p) => p.status !== 200)).toEqual([]);

    expect(await browsersWithoutExactlyOneLogin(browsers)).toEqual([]);
    const changes = (await sumMetric(webhookMetricsUrls, TICKETS_SCANNED)) - scannedBefore;
    expect(changes).toBe(BROWSERS);
    const busAfter = await scrapeMetricEach(gatewayMetricsUrls, BUS_MESSAGES_RECEIVED);
    const perGateway = busAfter.map((after, i) => after - busBefore[i]!);
    expect(perGateway).toEqual([100, 100, 100]);
    expect(perGateway.reduce((a, b) => a + b, 0)).toBe(changes);
    expect(await sumMetric(webhookMetricsUrls, BUS_MESSAGES_RECEIVED)).toBe(0);
  }, 90_000);
});
