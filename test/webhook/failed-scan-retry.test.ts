/**
 * A scan whose handling fails is not answered `success` — that would tell WeChat not to re-send it (WECHAT.md
 * §6) and the browser would never log in. It is answered 503 with no body and leaves no mark that stops the
 * re-send (the delivery's lease is released), so WeChat's re-sent push runs again and logs the browser in. A
 * scan past the reply deadline is still answered `success` (its work goes on), and if that work fails late,
 * the re-send runs again too. The bus fails for all of the doorbell's tries (`RING_ATTEMPTS`): one failed try
 * is absorbed by the doorbell's own retry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_WECHAT, type Standalone } from '../../apps/standalone/standalone.js';
import type { Engine, TicketChange } from '../../libs/engine/index.js';
import { RING_ATTEMPTS } from '../../libs/login/index.js';
import { loginCountKey } from '../../libs/ticket/index.js';
import { buildEventXml, readReply, signPush } from '../../libs/wechat/index.js';
import { LoginBrowser } from '../support/login-browser.js';
import { startTestStandalone } from '../support/standalone.js';
import { TOKEN } from '../support/fixtures.js';
import { flakyEngine, outcomeCount, scanEvent, settle, startWebhook, type Harness } from '../support/webhook-harness.js';

describe('a failed scan', () => {
  let hook: Harness | undefined;
  let app: Standalone | undefined;
  const browsers: LoginBrowser[] = [];
  afterEach(async () => {
    for (const browser of browsers.splice(0)) browser.close();
    await hook?.close();
    await app?.close();
    hook = undefined;
    app = undefined;
  });

  it('is answered 503 with no body, not success, and the re-sent push is handled and rings the doorbell', async () => {
    hook = await startWebhook({ confirmation: 'scan' }, { engine: (real) => flakyEngine(real, { publishFailures: RING_ATTEMPTS }) });
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);
    // WeChat re-sends the very same request: same query string, same body.
    const signed = signPush(scanEvent(ticket, { openid: 'o_retried', createTime: 1718000900 }), { token: TOKEN });

    const first = await hook.post(signed.query, signed.body);

    expect(first.status).toBe(503);
    expect(first.body).toBe('');
    expect(await outcomeCount(hook.metrics, 'error')).toBe(1);

    const resent = await hook.post(signed.query, signed.body);

    expect(resent.status).toBe(200);
    expect(readReply(resent.body).content).toMatch(/已经扫描过/);
    await settle();
    expect(changes).toEqual([{ ticket: ticket.id, status: 'confirmed', version: 2 }]);
    expect(await hook.engine.kv.get(loginCountKey('o_retried'))).toBe('1');
  });

  it("logs the browser in on WeChat's re-sent push (standalone product, real browser socket)", async () => {
    app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan' });
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    await browser.waitFor('status', (s) => s.status === 'pending');
    const ticketId = browser.ticket.ticket;
    // One transport failure on the product's own bus, for this ticket's login only.
    const events = app.engine.events;
    const publish = events.publish.bind(events);
    let failures = RING_ATTEMPTS;
    events.publish = (change: TicketChange) =>
      change.ticket === ticketId && failures-- > 0 ? Promise.reject(new Error('injected: bus unavailable')) : publish(change);
    const xml = buildEventXml({
      toUserName: 'gh_qrgatesim000',
      fromUserName: 'o_browser_retry',
      createTime: Math.floor(Date.now() / 1000),
      event: 'SCAN',
      eventKey: ticketId,
      // WeChat sends the scanned code's QR ticket; the store holds the same one.
      ticket: (await app.engine.tickets.get(ticketId))!.qr.wechatTicket,
    });
    const signed = signPush(xml, { token: DEMO_WECHAT.token });
    const post = async () =>
      fetch(`${app!.url}/wechat?${signed.query}`, { method: 'POST', body: signed.body, headers: { 'content-type': 'text/xml' } });

    const first = await post();

    expect(first.status).toBe(503);
    expect(await first.text()).toBe('');
    expect((await app.engine.tickets.get(ticketId))?.status).toBe('confirmed');

    const resent = await post();

    expect(resent.status).toBe(200);
    const login = await browser.waitFor('login');
    expect(login.ticket).toBe(ticketId);
    expect((await browser.exchange(login.code)).status).toBe(200);
  });

  it('past the reply deadline is still answered success, and a late failure removes its marks so the push can run again', async () => {
    let rejectPublish: ((error: Error) => void) | undefined;
    const slowFailingBus = (real: Engine): Engine => {
      let first = true;
      // The first try hangs (and fails late), the doorbell's other tries fail at once, then the bus is back.
      let failuresLeft = RING_ATTEMPTS - 1;
      return {
        ...real,
        events: {
          ...real.events,
          publish: (change) => {
            if (!first) return failuresLeft-- > 0 ? Promise.reject(new Error('injected: bus unavailable')) : real.events.publish(change);
            first = false;
            return new Promise<void>((_resolve, reject) => {
              rejectPublish = reject;
            });
          },
        },
      };
    };
    hook = await startWebhook({ confirmation: 'scan' }, { engine: slowFailingBus, replyDeadlineMs: 50 });
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);
    const signed = signPush(scanEvent(ticket, { openid: 'o_late', createTime: 1718000901 }), { token: TOKEN });

    const first = await hook.post(signed.query, signed.body);

    expect(first.status).toBe(200);
    expect(first.body).toBe('success');
    expect(await outcomeCount(hook.metrics, 'timeout')).toBe(1);
    // The publish is in flight (the write is done); now it fails, long after the answer went out.
    while (rejectPublish === undefined) await settle();
    rejectPublish(new Error('injected: bus unavailable'));
    // The doorbell's remaining tries come after its backoff (100 ms, then 200 ms).
    for (let waited = 0; waited < 40 && !hook.logs().includes('scan failed after the deadline'); waited++) await settle();
    expect(hook.logs()).toContain('scan failed after the deadline');

    const again = await hook.post(signed.query, signed.body);

    expect(again.status).toBe(200);
    expect(again.body).not.toBe('success');
    await settle();
    expect(changes).toEqual([{ ticket: ticket.id, status: 'confirmed', version: 2 }]);
  });
});
