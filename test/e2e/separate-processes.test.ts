/**
 * Production topology on one machine: the gateway, the webhook and the WeChat simulator as separate
 * processes (`node dist/apps/<app>/main.js`) on a private Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startApp, type AppProcess } from '../support/app-process.js';
import { TEST_ACCOUNT_ENV } from '../support/fixtures.js';
import { LoginBrowser } from '../support/login-browser.js';
import { follow, scan } from '../support/phone.js';
import { startRedisServer } from '../support/redis-server.js';

describe('separate gateway, webhook and simulator processes on Redis', () => {
  let redis: Awaited<ReturnType<typeof startRedisServer>>;
  const apps: AppProcess[] = [];
  let gateway: AppProcess;
  let sim: AppProcess;

  beforeAll(async () => {
    redis = await startRedisServer();
    const webhookPort = await freePort();
    sim = await startApp(
      'wechat-sim',
      { ...TEST_ACCOUNT_ENV, WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/wechat` },
      { waitReady: false },
    );
    apps.push(sim);
    const common = { ...TEST_ACCOUNT_ENV, REDIS_URL: redis.url, WECHAT_API_BASE: sim.url, LOGIN_CONFIRMATION: 'scan' };
    apps.push(await startApp('webhook', { ...common, PORT: String(webhookPort) }));
    gateway = await startApp('gateway', common);
    apps.push(gateway);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await redis?.stop();
  });

  it('logs a browser in across processes, with subscribe then SCAN, in safe mode', async () => {
    for (const [openid, prepare] of [
      ['o_sep_new', async () => {}],
      ['o_sep_follower', () => follow(sim.url, 'o_sep_follower')],
    ] as const) {
      await prepare();
      const browser = await LoginBrowser.open(gateway.url);
      try {
        const result = await scan(sim.url, { scene: browser.ticket.ticket, openid });
        expect(result.event).toBe(openid === 'o_sep_new' ? 'subscribe' : 'SCAN');
        expect(result.reply).toBeTruthy();
        const login = await browser.waitFor('login');
        const session = await browser.exchange(login.code);
        expect(session.status).toBe(200);
        expect(session.body.openid).toBe(openid);
        // A reuse without the browser's secret is refused; the browser's own retry is the same session.
        expect((await browser.exchange(login.code, 'A'.repeat(43))).status).toBe(401);
        const retry = await browser.exchange(login.code);
        expect(retry.status).toBe(200);
        const jti = (token: string): unknown => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).jti;
        expect(jti(retry.body.token)).toBe(jti(session.body.token));
      } finally {
        browser.close();
      }
    }
  });

  it('serves health, readiness and metrics on every app', async () => {
    for (const app of apps) {
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    }
    for (const app of apps) {
      expect((await fetch(`${app.url}/readyz`)).status).toBe(200);
      const metrics = await (await fetch(`${app.metricsUrl}/metrics`)).text();
      expect(metrics).toContain('process_cpu_user_seconds_total');
      // Metrics live on their own port only (issue 16, item 8): the public one has none, however spelled.
      for (const spelling of ['/metrics', '/metrics/', '/METRICS', '/Metrics/']) {
        expect((await fetch(`${app.url}${spelling}`)).status, `${app.name} ${spelling}`).toBe(404);
      }
    }
    expect(await (await fetch(`${sim.metricsUrl}/metrics`)).text()).toMatch(/qrgate_sim_calls\{kind="stableTokenCalls"\} 1/);
    const gatewayMetrics = await (await fetch(`${gateway.metricsUrl}/metrics`)).text();
    expect(gatewayMetrics).toMatch(/qrgate_tickets_created_total \d+/);
    expect(gatewayMetrics).toMatch(/qrgate_sockets_connected \d+/);
  });
});

describe('start-up refusals', () => {
  it('the gateway and the webhook refuse to start without Redis, naming the variable', async () => {
    for (const name of ['gateway', 'webhook'] as const) {
      const failed = await startApp(name, { ...TEST_ACCOUNT_ENV }).catch((e: Error) => e);
      expect(failed).toBeInstanceOf(Error);
      expect((failed as Error).message).toMatch(/REDIS_URL/);
    }
  });

  it('an invalid setting stops start-up with a message naming the variable', async () => {
    const failed = await startApp('standalone', { TICKET_TTL_SECONDS: 'soon' }).catch((e: Error) => e);
    expect((failed as Error).message).toMatch(/TICKET_TTL_SECONDS/);
    const badKey = await startApp('standalone', { WECHAT_AES_KEY: 'short' }).catch((e: Error) => e);
    expect((badKey as Error).message).toMatch(/WECHAT_AES_KEY/);
    expect((badKey as Error).message).not.toMatch(/short/);
  });
});
