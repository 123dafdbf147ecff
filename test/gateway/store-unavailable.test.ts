/**
 * A store failure while issuing a ticket (e.g. during a Redis Cluster failover) is refused as
 * `STORE_UNAVAILABLE`, not blamed on WeChat (issue 9 item 3): on the handshake (`connect_error`) and on a
 * refresh (its acknowledgement). WeChat's own failure stays `WECHAT_UNAVAILABLE`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import type { Ticket } from '../../libs/ticket/index.js';
import { ConnectError, LoginBrowser } from '../support/login-browser.js';
import { startTestStandalone } from '../support/standalone.js';

describe('issuing a ticket when the store fails', () => {
  let app: Standalone;
  let storeFailures = 0;
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan' });
    const tickets = app.engine.tickets;
    const create = tickets.create.bind(tickets);
    tickets.create = (ticket: Ticket) => (storeFailures-- > 0 ? Promise.reject(new Error('injected: store unavailable')) : create(ticket));
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    await app?.close();
  });

  it('refuses the handshake with STORE_UNAVAILABLE', async () => {
    storeFailures = 1;
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
    storeFailures = 1;

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
});
