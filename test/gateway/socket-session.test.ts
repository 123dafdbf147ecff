/**
 * One socket's view of its ticket (apps/gateway/login-namespace.ts `SocketSession`), on the in-process gateway
 * harness: the QR code expires on time and only then, a refresh asked twice at once issues one ticket, each
 * version of a ticket reaches the browser once however often its doorbell rings, and an expiry is recorded
 * once however many sockets watch the ticket. Time is the harness's fake clock: no test waits out a TTL.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LOGIN_CODE_TTL_SECONDS, newLoginCode, transition } from '../../libs/ticket/index.js';
import { START, startGateway, type GatewayHarness } from '../support/gateway-harness.js';
import type { LoginBrowser } from '../support/login-browser.js';

const TTL_SECONDS = 120;
/** The session arms its timer 50 ms past `expiresAt`, so a ticket is never expired a moment early. */
const TIMER_SLACK_MS = 50;

let harness: GatewayHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

const start = async (env: Record<string, string> = {}): Promise<GatewayHarness> => {
  harness = await startGateway({ TICKET_TTL_SECONDS: String(TTL_SECONDS), ...env });
  return harness;
};

/** The `status` events a browser heard, with the ticket each was about. */
const heard = (browser: LoginBrowser): Array<[string, string]> =>
  browser.events.flatMap((e) => (e.type === 'status' ? [[e.payload.ticket, e.payload.status] as [string, string]] : []));

const ticketsHeard = (browser: LoginBrowser): string[] => browser.events.flatMap((e) => (e.type === 'ticket' ? [e.payload.ticket] : []));

const expiredCount = async (h: GatewayHarness): Promise<number> => (await h.metrics.ticketsExpired.get()).values[0]?.value ?? 0;

describe('expiry', () => {
  it('expires a pending ticket when its TTL passes, and not a moment before', async () => {
    const h = await start();
    const browser = await h.open();
    const { ticket, expiresAt } = browser.ticket;
    expect(expiresAt).toBe(START + TTL_SECONDS * 1000);

    await h.advance(TTL_SECONDS * 1000 - 1);
    expect((await h.engine.tickets.get(ticket))?.status).toBe('pending');
    expect(heard(browser)).toEqual([[ticket, 'pending']]);

    await h.advance(1 + TIMER_SLACK_MS);
    await browser.waitFor('status', (s) => s.status === 'expired');
    expect((await h.engine.tickets.get(ticket))?.status).toBe('expired');
    expect(heard(browser)).toEqual([
      [ticket, 'pending'],
      [ticket, 'expired'],
    ]);
    expect(await expiredCount(h)).toBe(1);
  });

  it('records the expiry once and tells each socket once when several sockets watch the ticket', async () => {
    const h = await start();
    const first = await h.open();
    const { ticket, secret } = first.ticket;
    const second = await h.open({ resume: { ticket, secret } });

    await h.advance(TTL_SECONDS * 1000 + TIMER_SLACK_MS);
    await first.waitFor('status', (s) => s.status === 'expired');
    await second.waitFor('status', (s) => s.status === 'expired');
    // A refresh is answered after everything the socket was sent before it: a late duplicate would show here.
    for (const browser of [first, second]) {
      const fresh = await browser.refresh();
      expect('error' in fresh).toBe(false);
      expect(heard(browser).filter(([id]) => id === ticket)).toEqual([
        [ticket, 'pending'],
        [ticket, 'expired'],
      ]);
    }
    expect(await expiredCount(h)).toBe(1);
  });

  it('after a refresh, the old ticket’s timer is gone and the new ticket expires on its own TTL', async () => {
    const h = await start();
    const browser = await h.open();
    const old = browser.ticket.ticket;

    await h.advance(60_000);
    const fresh = await browser.refresh();
    if ('error' in fresh) throw new Error(`refresh refused: ${fresh.error.code}`);
    expect(fresh.expiresAt).toBe(START + 60_000 + TTL_SECONDS * 1000);

    // Past the old ticket's expiry: nobody watches it any more, so nothing records or announces it.
    await h.advance(TTL_SECONDS * 1000 - 60_000 + 1_000);
    expect((await h.engine.tickets.get(old))?.status).toBe('pending');
    expect((await h.engine.tickets.get(fresh.ticket))?.status).toBe('pending');
    expect(heard(browser).some(([, status]) => status === 'expired')).toBe(false);

    await h.advance(60_000);
    await browser.waitFor('status', (s) => s.ticket === fresh.ticket && s.status === 'expired');
    expect(heard(browser)).toEqual([
      [old, 'pending'],
      [fresh.ticket, 'pending'],
      [fresh.ticket, 'expired'],
    ]);
    expect(await expiredCount(h)).toBe(1);
  });
});

describe('refresh', () => {
  it('issues one new ticket for two refreshes asked at once, and answers both with it', async () => {
    const h = await start();
    const browser = await h.open();
    expect(h.wechat.calls).toHaveLength(1);

    h.wechat.hold();
    const answers = Promise.all([browser.refresh(), browser.refresh()]);
    await h.wechat.calledTimes(2);
    // A refresh without an acknowledgement is only logged: once it is, the two before it have arrived too.
    (browser.socket as unknown as { emit(event: string): unknown }).emit('refresh');
    await h.logged('refresh without acknowledgement ignored');
    h.wechat.release();
    const [one, two] = await answers;

    if ('error' in one) throw new Error(`refresh refused: ${one.error.code}`);
    expect(two).toEqual(one);
    expect(h.wechat.calls).toHaveLength(2);
    expect(ticketsHeard(browser)).toEqual([h.wechat.calls[0]?.sceneStr, one.ticket]);
    expect((await h.metrics.ticketsCreated.get()).values[0]?.value).toBe(2);
  });

  it('answers WECHAT_UNAVAILABLE when WeChat fails, and keeps the current ticket and its expiry', async () => {
    const h = await start();
    const browser = await h.open();
    const { ticket } = browser.ticket;

    h.wechat.failNext(1);
    expect(await browser.refresh()).toEqual({ error: { code: 'WECHAT_UNAVAILABLE', message: expect.any(String) } });
    expect(ticketsHeard(browser)).toEqual([ticket]);

    await h.advance(TTL_SECONDS * 1000 + TIMER_SLACK_MS);
    await browser.waitFor('status', (s) => s.ticket === ticket && s.status === 'expired');
  });
});

describe('delivery', () => {
  it('sends each version once however often the doorbell rings', async () => {
    const h = await start();
    const browser = await h.open();
    const { ticket } = browser.ticket;

    const code = newLoginCode(ticket);
    const scanned = await h.engine.tickets.apply(ticket, (t) =>
      transition(t, { type: 'scan', openid: 'o_alice', at: h.now(), mode: 'tap', code }),
    );
    if (!scanned.ok) throw new Error(`scan refused: ${scanned.reason}`);
    const ring = { ticket, version: scanned.ticket.version };
    await h.engine.events.publish(ring);
    await h.engine.events.publish(ring);
    await browser.waitFor('status', (s) => s.status === 'scanned');
    await h.engine.events.publish(ring);

    const confirmed = await h.engine.tickets.apply(ticket, (t) => transition(t, { type: 'confirm', openid: 'o_alice', at: h.now(), code }));
    if (!confirmed.ok) throw new Error(`confirm refused: ${confirmed.reason}`);
    await h.engine.events.publish({ ticket, version: confirmed.ticket.version });
    await h.engine.events.publish({ ticket, version: confirmed.ticket.version });
    await browser.waitFor('login');
    // The refresh's answer comes after anything sent before it.
    await browser.refresh();

    expect(heard(browser).filter(([id]) => id === ticket)).toEqual([
      [ticket, 'pending'],
      [ticket, 'scanned'],
      [ticket, 'confirmed'],
    ]);
    expect(browser.logins()).toEqual([{ ticket, code, user: {}, version: confirmed.ticket.version }]);
  });
});

describe('resume with the last version received', () => {
  /** A confirmed ticket held by a browser that got its `login` and then lost its socket. */
  async function confirmedThenDropped(h: GatewayHarness) {
    const browser = await h.open();
    const { ticket, secret } = browser.ticket;
    const code = newLoginCode(ticket);
    const confirmed = await h.engine.tickets.apply(ticket, (t) =>
      transition(t, { type: 'scan', openid: 'o_bob', at: h.now(), mode: 'scan', code }),
    );
    if (!confirmed.ok) throw new Error(`scan refused: ${confirmed.reason}`);
    await h.engine.events.publish({ ticket, version: confirmed.ticket.version });
    const login = await browser.waitFor('login');
    expect(login).toEqual({ ticket, code, user: {}, version: confirmed.ticket.version });
    browser.close();
    return { ticket, secret, code, version: confirmed.ticket.version };
  }

  it('does not send a login the browser says it received, nor re-announce what it saw', async () => {
    const h = await start();
    const { ticket, secret, version } = await confirmedThenDropped(h);

    const resumed = await h.open({ resume: { ticket, secret, version } });
    // The refresh's answer comes after anything the resume sent before it.
    await resumed.refresh();

    expect(resumed.logins()).toEqual([]);
    expect(heard(resumed).filter(([id]) => id === ticket)).toEqual([]);
  });

  it('still sends the login to a browser that never received it (older version, or none given)', async () => {
    const h = await start();
    const { ticket, secret, code, version } = await confirmedThenDropped(h);

    const older = await h.open({ resume: { ticket, secret, version: version - 1 } });
    const withoutVersion = await h.open({ resume: { ticket, secret } });

    expect(await older.waitFor('login')).toEqual({ ticket, code, user: {}, version });
    expect(await withoutVersion.waitFor('login')).toEqual({ ticket, code, user: {}, version });
  });

  it('tells a browser that comes back after its code lapsed `expired`, not a login it cannot redeem', async () => {
    const h = await start();
    const { ticket, secret, version } = await confirmedThenDropped(h);
    await h.advance(LOGIN_CODE_TTL_SECONDS * 1000);

    const late = await h.open({ resume: { ticket, secret, version: version - 1 } });

    expect(await late.waitFor('status')).toEqual({ ticket, status: 'expired', version });
    const fresh = await late.refresh();
    expect('error' in fresh).toBe(false);
    expect(late.logins()).toEqual([]);
  });

  it('a claimed version beyond the stored one does not make the socket deaf to the changes to come', async () => {
    const h = await start();
    const browser = await h.open();
    const { ticket, secret } = browser.ticket;
    browser.close();

    const resumed = await h.open({ resume: { ticket, secret, version: 1_000 } });
    const code = newLoginCode(ticket);
    const confirmed = await h.engine.tickets.apply(ticket, (t) =>
      transition(t, { type: 'scan', openid: 'o_carol', at: h.now(), mode: 'scan', code }),
    );
    if (!confirmed.ok) throw new Error(`scan refused: ${confirmed.reason}`);
    await h.engine.events.publish({ ticket, version: confirmed.ticket.version });

    expect(await resumed.waitFor('login')).toEqual({ ticket, code, user: {}, version: confirmed.ticket.version });
  });

  it.each([-1, 1.5, '2', null])('refuses a resume whose version is %j: INVALID_PAYLOAD, nothing issued', async (bad) => {
    const h = await start();
    const browser = await h.open();
    const { ticket, secret } = browser.ticket;
    const created = (await h.metrics.ticketsCreated.get()).values[0]?.value ?? 0;

    const refused = await h.open({ resume: { ticket, secret, version: bad as number } }).catch((e: unknown) => e);

    expect(refused).toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect((await h.metrics.ticketsCreated.get()).values[0]?.value ?? 0).toBe(created);
  });
});
