/**
 * Deliveries per scan: how many bus messages the gateways receive, summed over all of them, for each ticket
 * change a scan makes. Per-ticket sharded channels keep it at the floor of 1.0 whatever the number of gateways
 * (only the gateway holding the browser's socket is subscribed); a broadcast bus would cost one per gateway.
 */
import { mapLimit, pushScan, startScaleCluster } from '../support/cluster.js';
import { LoginBrowser } from '../support/login-browser.js';
import { BUS_MESSAGES_RECEIVED, TICKETS_SCANNED, sumMetric } from '../support/metrics.js';
import { startRedisServer } from '../support/redis-server.js';

/** The least a delivery can cost: the one gateway that holds the socket hears the change once. */
export const DELIVERY_FLOOR = 1.0;

/** One measurement. */
export interface DeliveriesResult {
  gateways: number;
  browsers: number;
  /** Ticket changes the scans made (the webhooks' `qrgate_tickets_scanned_total`). */
  changes: number;
  /** Bus messages received, summed over the gateways. */
  busMessages: number;
  /** `busMessages / changes`. */
  perChange: number;
  /** Browsers that received exactly one `login`. */
  loggedIn: number;
}

/**
 * Start `gateways` gateway processes and one webhook on a private Redis, connect `browsers` browsers round
 * robin, push one scan per browser, and count. Everything started is stopped before returning.
 */
export async function measureDeliveries(gateways: number, browsers: number): Promise<DeliveriesResult> {
  const redis = await startRedisServer();
  try {
    const cluster = await startScaleCluster({ gateways, webhooks: 1, engineEnv: { REDIS_URL: redis.url } });
    const opened: LoginBrowser[] = [];
    try {
      const gatewayUrls = cluster.gateways.map((g) => g.url);
      const webhookUrls = cluster.webhooks.map((w) => w.url);
      opened.push(
        ...(await mapLimit(Array.from({ length: browsers }, (_, i) => i), 25, (i) =>
          LoginBrowser.open(gatewayUrls[i % gateways]!),
        )),
      );
      const busBefore = await sumMetric(gatewayUrls, BUS_MESSAGES_RECEIVED);
      const scannedBefore = await sumMetric(webhookUrls, TICKETS_SCANNED);
      await mapLimit(opened, 20, async (browser, i) => {
        const pushed = await pushScan(`${webhookUrls[0]!}/wechat`, { scene: browser.ticket.ticket, openid: `o_bench_${i}` });
        if (pushed.status !== 200) throw new Error(`push answered ${pushed.status}`);
      });
      await Promise.all(opened.map((browser) => browser.waitFor('login', undefined, 30_000)));
      // Let any duplicate arrive before counting.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const changes = (await sumMetric(webhookUrls, TICKETS_SCANNED)) - scannedBefore;
      const busMessages = (await sumMetric(gatewayUrls, BUS_MESSAGES_RECEIVED)) - busBefore;
      return {
        gateways,
        browsers,
        changes,
        busMessages,
        perChange: changes === 0 ? Number.NaN : busMessages / changes,
        loggedIn: opened.filter((browser) => browser.logins().length === 1).length,
      };
    } finally {
      for (const browser of opened) browser.close();
      await cluster.stop();
    }
  } finally {
    await redis.stop();
  }
}
