/**
 * Webhook signed events per second, plaintext, on real tickets: browsers wait on one gateway, then one
 * signed `SCAN` push per waiting ticket is sent to one webhook with a fixed number in flight. The floor gets
 * the same requests on a bare `node:http` server that reads the body and answers `success`; so does the
 * stack floor, Koa + @koa/router + the `wechat` package with nothing of ours (`floors/koa-wechat-floor.ts`).
 */
import { ClientPool, workersFor } from '../client-pool.js';
import { withScope } from '../lifecycle.js';
import { benchScript, startFloorProcess, startQrgate } from '../systems.js';
import type { PushResult } from '../workers/scan-pusher.js';
import { startWorker } from '../workers/worker-protocol.js';

export interface WebhookResult {
  tickets: number;
  inFlight: number;
  qrgatePerSecond: number;
  floorPerSecond: number;
  /** The stack floor: Koa, @koa/router and the `wechat` package alone (NaN in runs from before it existed). */
  stackPerSecond: number;
  /** Answers other than 200 from the webhook, by status. */
  qrgateStatuses: Record<string, number>;
  /** Browsers that got their `login` (every push was a real scan of a waiting ticket). */
  loggedIn: number;
}

export async function measureWebhook(tickets: number, inFlight: number): Promise<WebhookResult> {
  return withScope(async (defer) => {
    const qrgate = await startQrgate({ gateways: 1, webhooks: 1 });
    defer(qrgate.stop);
    const pool = await ClientPool.start(workersFor(tickets));
    defer(pool.stop);
    const held = await pool.hold([qrgate.gateways[0]!.url], tickets, 16);
    const pusher = await startWorker(benchScript('workers/scan-pusher.js'));
    defer(() => pusher.stop());
    // WeChat sends each code's QR ticket with the scan; the webhook refuses a scan without it.
    const qrTickets = await qrgate.qrTickets();
    const flood = (url: string, list: string[]): Promise<PushResult> =>
      pusher.call<PushResult>('flood', { url, token: qrgate.token, tickets: list, qrTickets, concurrency: inFlight });
    // Warm both sides with a tenth of the tickets, then measure on the rest.
    const warmCount = Math.ceil(held.tickets.length / 10);
    const warm = held.tickets.slice(0, warmCount);
    const measured = held.tickets.slice(warmCount);
    await flood(qrgate.webhookUrls[0]!, warm);
    const ours = await flood(qrgate.webhookUrls[0]!, measured);
    const logins = await pool.logins(measured, 30_000);
    const floor = await startFloorProcess('http-floor');
    defer(() => floor.stop());
    await flood(`${floor.url}/wechat`, warm);
    const bare = await flood(`${floor.url}/wechat`, measured);
    await floor.stop();
    const stack = await startFloorProcess('koa-wechat-floor');
    defer(() => stack.stop());
    await flood(`${stack.url}/wechat`, warm);
    const frameworks = await flood(`${stack.url}/wechat`, measured);
    return {
      tickets: measured.length,
      inFlight,
      qrgatePerSecond: ours.sent.length / (ours.elapsedMs / 1000),
      floorPerSecond: bare.sent.length / (bare.elapsedMs / 1000),
      stackPerSecond: frameworks.sent.length / (frameworks.elapsedMs / 1000),
      qrgateStatuses: ours.statuses,
      loggedIn: logins.arrivals.length,
    };
  });
}
