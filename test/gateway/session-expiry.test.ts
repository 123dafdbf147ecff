/**
 * Issue 12: a page on `/session` whose token runs out is told `session_ended { reason: 'expired' }` by its own
 * gateway and disconnected, at the token's `exp` and not before; the token is then refused everywhere. On the
 * in-process gateway harness, whose fake clock moves past SESSION_TTL_SECONDS without waiting it out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { createLoginService } from '../../libs/login/index.js';
import { createMetrics } from '../../libs/observability/index.js';
import { ioTurns, startGateway, type GatewayHarness } from '../support/gateway-harness.js';
import { SessionPage } from '../support/session-page.js';

const SESSION_TTL_SECONDS = 120;

let harness: GatewayHarness | undefined;
const pages: SessionPage[] = [];
afterEach(async () => {
  for (const page of pages.splice(0)) page.close();
  await harness?.close();
  harness = undefined;
});

/** Let socket I/O run until `done()` holds (real event-loop turns; the clock does not move). */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 5_000 && !done(); i++) await ioTurns(1);
  if (!done()) throw new Error(`never saw ${what}`);
}

describe('session expiry on /session', () => {
  it("ends the page at its token's expiry (reason expired), not a moment before", async () => {
    harness = await startGateway({ SESSION_TTL_SECONDS: String(SESSION_TTL_SECONDS) });
    const h = harness;
    const browser = await h.open();
    const login = createLoginService({
      engine: h.engine,
      metrics: createMetrics({ defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
      now: h.now,
    });
    const stored = await login.read(browser.ticket.ticket);
    const scanned = await login.scan({
      ticketId: browser.ticket.ticket,
      openid: 'o_expiring',
      mode: 'scan',
      qrTicket: stored?.qr.wechatTicket ?? '',
      appId: stored?.qr.appId ?? '',
    });
    expect(scanned.kind).toBe('confirmed');
    const { code } = await browser.waitFor('login');
    const { body } = await browser.exchange(code);
    const claims = decodeJwt(body.token);
    expect(claims.exp! - claims.iat!).toBe(SESSION_TTL_SECONDS);

    const page = await SessionPage.open(h.url, { token: body.token });
    pages.push(page);
    await until(() => page.connected, 'the page connected');
    const left = claims.exp! * 1000 - h.now();
    await h.advance(left - 1_000);
    expect(page.ended).toEqual([]);
    expect(page.connected).toBe(true);

    await h.advance(2_000);
    await until(() => page.ended.length > 0 && !page.connected, 'session_ended');
    expect(page.ended).toEqual([{ sid: claims.sid, reason: 'expired' }]);
    const status = await fetch(`${h.url}/api/session`, { headers: { authorization: `Bearer ${body.token}` } });
    expect(status.status).toBe(401);
  });
});
