/**
 * One access token for the whole deployment: three gateway processes, 200 browsers each, all connecting at
 * once, so every gateway needs a token for its first QR codes at the same moment. The token cache and its lock
 * live in the engine's shared key-value store, so WeChat's `stable_token` is called exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScaleCluster, type ScaleCluster } from '../support/cluster.js';
import { ConnectError, LoginBrowser } from '../support/login-browser.js';
import { SOCKETS_CONNECTED, scrapeMetricEach } from '../support/metrics.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

const GATEWAYS = 3;
const PER_GATEWAY = 200;

interface SimStats {
  stableTokenCalls: number;
  tokenCalls: number;
  qrcodeCreateCalls: number;
}

describe('one WeChat access token for many gateways', () => {
  let redis: RedisServerHandle | undefined;
  let cluster: ScaleCluster | undefined;
  const browsers: LoginBrowser[] = [];
  const stats = async (): Promise<SimStats> => (await (await fetch(`${cluster!.sim.url}/sim/api/stats`)).json()) as SimStats;

  beforeAll(async () => {
    redis = await startRedisServer();
    cluster = await startScaleCluster({
      gateways: GATEWAYS,
      webhooks: 1,
      engineEnv: { REDIS_URL: redis.url },
      // All 200 of a gateway's browsers must be on their way in at the same moment (the default admits 128 at once
      // and tells the rest GATEWAY_BUSY, which a real client retries): that is the crowd this test is about.
      gatewayEnv: { MAX_HANDSHAKES_IN_FLIGHT: String(PER_GATEWAY) },
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

  it(`fetches stable_token once for ${GATEWAYS} × ${PER_GATEWAY} tickets issued at once`, async () => {
    expect(await stats()).toMatchObject({ stableTokenCalls: 0, tokenCalls: 0, qrcodeCreateCalls: 0 });
    const gatewayUrls = cluster!.gateways.map((g) => g.url);
    const gatewayMetricsUrls = cluster!.gateways.map((g) => g.metricsUrl);

    // Every browser starts connecting before any has its ticket. A gateway rendering 200 QR codes at once on
    // this small machine can be too busy to read WeChat's answer within the client's timeout; such a browser is
    // told WECHAT_UNAVAILABLE and, like the real client, tries again (by then with the cached token).
    const open = async (url: string): Promise<LoginBrowser> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await LoginBrowser.open(url);
        } catch (error) {
          if (!(error instanceof ConnectError) || error.code !== 'WECHAT_UNAVAILABLE' || attempt === 3) throw error;
        }
      }
    };
    const opening = Array.from({ length: GATEWAYS * PER_GATEWAY }, (_, i) => open(gatewayUrls[i % GATEWAYS]!));
    const settled = await Promise.allSettled(opening);
    for (const outcome of settled) if (outcome.status === 'fulfilled') browsers.push(outcome.value);
    expect(settled.filter((outcome) => outcome.status === 'rejected')).toEqual([]);

    expect(await scrapeMetricEach(gatewayMetricsUrls, SOCKETS_CONNECTED)).toEqual([PER_GATEWAY, PER_GATEWAY, PER_GATEWAY]);
    expect(new Set(browsers.map((b) => b.ticket.ticket)).size).toBe(GATEWAYS * PER_GATEWAY);
    expect(await stats()).toMatchObject({
      stableTokenCalls: 1,
      // Never the legacy endpoint, whose every call invalidates the previous token.
      tokenCalls: 0,
    });
    // One QR code per ticket, plus any whose answer came too late (see above).
    expect((await stats()).qrcodeCreateCalls).toBeGreaterThanOrEqual(GATEWAYS * PER_GATEWAY);
  }, 90_000);
});
