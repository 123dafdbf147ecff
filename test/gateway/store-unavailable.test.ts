/**
 * A store failure while issuing a ticket (e.g. during a Redis Cluster failover) is refused as
 * `STORE_UNAVAILABLE`, not blamed on WeChat (issue 9 item 3): on the handshake (`connect_error`) and on a
 * refresh (its acknowledgement). WeChat's own failure stays `WECHAT_UNAVAILABLE`. A store failure while a
 * login code is exchanged is `503 STORE_UNAVAILABLE`, which the client retries: a final `500` there lost a
 * confirmed login in the Cluster failover scenario. A store failure while the scanner's decision is written
 * answers the confirmation page 503 with the same buttons: the tap again applies it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import type { Ticket } from '../../libs/ticket/index.js';
import { exchangeRetryable } from '../../libs/client/exchange-retry.js';
import { ConnectError, LoginBrowser } from '../support/login-browser.js';
import { linkIn, scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { openConfirmation, postConfirmation, tokenOf } from '../security/security-harness.js';

/** How many of the next ticket writes fail: `create` as an injected outage, `apply` as a dropped Redis connection. */
interface InjectedFailures {
  create: number;
  apply: number;
}

/** A standalone whose ticket store fails the next writes `failures` counts (set by each test). */
async function standaloneWithFailingStore(env: Record<string, string>, failures: InjectedFailures): Promise<Standalone> {
  const app = await startTestStandalone(env);
  const tickets = app.engine.tickets;
  const create = tickets.create.bind(tickets);
  tickets.create = (ticket: Ticket) => (failures.create-- > 0 ? Promise.reject(new Error('injected: store unavailable')) : create(ticket));
  const apply = tickets.apply.bind(tickets);
  tickets.apply = ((...args: Parameters<typeof apply>) =>
    failures.apply-- > 0 ? Promise.reject(new Error('Connection is closed.')) : apply(...args)) as typeof apply;
  return app;
}

describe('issuing a ticket when the store fails', () => {
  let app: Standalone;
  const failures: InjectedFailures = { create: 0, apply: 0 };
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    app = await standaloneWithFailingStore({ LOGIN_CONFIRMATION: 'scan' }, failures);
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    await app?.close();
  });

  it('refuses the handshake with STORE_UNAVAILABLE', async () => {
    failures.create = 1;
    const refused = await LoginBrowser.open(app.url).then(
      (browser) => {
        browsers.push(browser);
        return null;
      },
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe('STORE_UNAVAILABLE');

    // The store is back: the next attempt gets a ticket.
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    expect(browser.ticket.ticket).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('answers a refresh with STORE_UNAVAILABLE and keeps the current ticket', async () => {
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    const before = browser.ticket.ticket;
    failures.create = 1;

    const ack = await browser.refresh();

    expect(ack).toMatchObject({ error: { code: 'STORE_UNAVAILABLE' } });
    expect(browser.ticket.ticket).toBe(before);
  });

  it('still says WECHAT_UNAVAILABLE when WeChat gives no QR code', async () => {
    // 45009 (daily quota) is not retried by the WeChat client.
    app.sim!.failNext('/cgi-bin/qrcode/create', 45009, 1);
    const refused = await LoginBrowser.open(app.url).catch((error: unknown) => error);
    expect((refused as ConnectError).code).toBe('WECHAT_UNAVAILABLE');
  });

  it('answers an exchange with 503 STORE_UNAVAILABLE, which the client retries, and logs in on the retry', async () => {
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    await scan(app.url, { scene: browser.ticket.ticket, openid: 'o_store_outage' });
    const login = await browser.waitFor('login');
    failures.apply = 1;

    const refused = await browser.exchange(login.code);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ code: 'STORE_UNAVAILABLE', error: expect.stringMatching(/exchange this code; retry/) });
    expect(refused.setCookie).toBeNull();
    expect(exchangeRetryable(refused.status)).toBe(true);
    expect(await app.engine.tickets.get(browser.ticket.ticket)).toMatchObject({ status: 'confirmed' });

    const retried = await browser.exchange(login.code);
    expect(retried.status).toBe(200);
    expect(retried.body.openid).toBe('o_store_outage');
  });
});

describe('a decision on the confirmation page when the store fails', () => {
  let app: Standalone;
  const failures: InjectedFailures = { create: 0, apply: 0 };
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    app = await standaloneWithFailingStore({ LOGIN_CONFIRMATION: 'tap' }, failures);
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    await app?.close();
  });

  it('answers 503 with the same buttons, changes nothing, and the tap again logs the browser in', async () => {
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    await browser.waitFor('status', (s) => s.status === 'pending');
    const scanned = await scan(app.url, { scene: browser.ticket.ticket, openid: 'o_decide_store_down' });
    await browser.waitFor('status', (s) => s.status === 'scanned');
    const token = tokenOf(linkIn(scanned.reply)!);
    const { cookie } = await openConfirmation(app, token);
    failures.apply = 1;

    const failed = await postConfirmation(app, token, 'confirm', cookie);

    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('1');
    expect(failed.body).toContain('Please tap it again.');
    expect(failed.body).toContain('value="confirm"');
    expect(await app.engine.tickets.get(browser.ticket.ticket)).toMatchObject({ status: 'scanned', version: 2 });

    const tapped = await postConfirmation(app, token, 'confirm', cookie);

    expect(tapped.status).toBe(200);
    expect(tapped.body).toMatch(/已确认登录/);
    const login = await browser.waitFor('login');
    expect((await browser.exchange(login.code)).status).toBe(200);
  });
});
