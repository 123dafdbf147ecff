/**
 * `tap` mode when the bus fails right after the scanner's decision is written: the confirmation page retries
 * the publish a bounded number of times; if it still fails, the scanner is told the decision is recorded (not
 * shown an error for a link that is now used), and opening the link again rings the browser's doorbell again,
 * so the browser is logged in (or told "cancelled") after all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import type { TicketChange } from '../../libs/engine/index.js';
import { LoginBrowser } from '../support/login-browser.js';
import { followLink, linkIn, scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { AES_KEY } from '../support/fixtures.js';
import { postConfirmation, tokenOf } from './security-harness.js';

describe('a lost publish after the decision on the confirmation page', () => {
  let app: Standalone;
  const browsers: LoginBrowser[] = [];
  /** Publishes of this ticket's final state that fail; the calls are counted. */
  let fault = { ticket: '', failures: 0, calls: 0 };

  beforeAll(async () => {
    app = await startTestStandalone({ WECHAT_AES_KEY: AES_KEY });
    // One transport failing on the product's own bus, for a decision (confirmed or cancelled) only.
    const events = app.engine.events;
    const publish = events.publish.bind(events);
    events.publish = (change: TicketChange) => {
      // Version 2 is the scan (pending 1 → scanned 2); the decision is version 3.
      if (change.ticket !== fault.ticket || change.version < 3) return publish(change);
      fault.calls += 1;
      return fault.failures-- > 0 ? Promise.reject(new Error('injected: bus unavailable')) : publish(change);
    };
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    await app?.close();
  });

  /** A browser whose ticket the phone scanned, and the link from the reply. */
  async function scanned(openid: string): Promise<{ browser: LoginBrowser; link: string }> {
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    await browser.waitFor('status', (s) => s.status === 'pending');
    const result = await scan(app.url, { scene: browser.ticket.ticket, openid });
    await browser.waitFor('status', (s) => s.status === 'scanned');
    return { browser, link: linkIn(result.reply)! };
  }

  it('retries a failed publish: one failure still gives the normal page and the login', async () => {
    const { browser, link } = await scanned('o_publish_once');
    fault = { ticket: browser.ticket.ticket, failures: 1, calls: 0 };

    const followed = await followLink(link, 'confirm');

    expect(followed.submitted?.status).toBe(200);
    expect(followed.submitted?.body).toMatch(/已确认登录/);
    expect(fault.calls).toBe(2);
    const login = await browser.waitFor('login');
    expect((await browser.exchange(login.code)).status).toBe(200);
  });

  it('past its tries, tells the scanner the confirmation is recorded; opening the link again logs the browser in', async () => {
    const { browser, link } = await scanned('o_publish_lost');
    fault = { ticket: browser.ticket.ticket, failures: 3, calls: 0 };

    const followed = await followLink(link, 'confirm');

    expect(followed.submitted?.status).toBe(200);
    expect(followed.submitted?.body).toMatch(/已记录你的确认/);
    expect(followed.submitted?.body).toContain('the computer will update shortly');
    expect(fault.calls).toBe(3);
    expect((await app.engine.tickets.get(browser.ticket.ticket))?.status).toBe('confirmed');
    expect(browser.logins()).toEqual([]);

    // The scanner opens the link again: still single-use, and now the doorbell rings.
    const reopened = await followLink(link, 'confirm');

    expect(reopened.page.status).toBe(409);
    expect(reopened.submitted).toBeNull();
    const login = await browser.waitFor('login');
    expect(login.ticket).toBe(browser.ticket.ticket);
    expect((await browser.exchange(login.code)).status).toBe(200);
    expect(browser.logins()).toHaveLength(1);
  });

  it('does the same for Not me: a re-submitted form tells the browser it was cancelled', async () => {
    const { browser, link } = await scanned('o_publish_lost_cancel');
    fault = { ticket: browser.ticket.ticket, failures: 3, calls: 0 };

    const followed = await followLink(link, 'cancel');

    expect(followed.submitted?.status).toBe(200);
    expect(followed.submitted?.body).toMatch(/已记录你的拒绝/);
    expect((await app.engine.tickets.get(browser.ticket.ticket))?.status).toBe('cancelled');

    const resubmitted = await postConfirmation(app, tokenOf(link), 'cancel');

    expect(resubmitted.status).toBe(409);
    await browser.waitFor('status', (s) => s.status === 'cancelled');
    expect(browser.logins()).toEqual([]);
  });
});
