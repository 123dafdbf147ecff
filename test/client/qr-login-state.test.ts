/**
 * The browser SDK's rules without a socket (libs/client/qr-login-state.ts): what the widget shows for each
 * event, when an expired code is replaced by itself and when the user is asked, how refusals and cut
 * connections are retried, and that the ticket's secret never reaches the snapshot. test/browser/* runs the
 * same rules for real, through qr-login.ts, in Chromium.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_RETRY_MS,
  MAX_TRANSIENT_RETRIES,
  SHUTDOWN_RETRY_MS,
  initialModel,
  reduce,
  replacedSocket,
  snapshotOf,
  type LoginEffect,
  type LoginEvent,
  type LoginModel,
} from '../../libs/client/qr-login-state.js';
import type { TicketPayload } from '../../libs/protocol/index.js';

const MAX_AUTO = 2;

const payload = (ticket: string): TicketPayload => ({
  ticket,
  secret: `secret-of-${ticket}`,
  qrUrl: `http://weixin.qq.com/q/${ticket}`,
  qrImage: 'data:image/png;base64,AAAA',
  expiresAt: 1_800_000_000_000,
});

/** Apply `events` in order from `model`; the effects of the last one, and every model on the way frozen. */
function fold(events: LoginEvent[], model: LoginModel = initialModel(MAX_AUTO)): { model: LoginModel; effects: LoginEffect[] } {
  let current = Object.freeze(model);
  let effects: LoginEffect[] = [];
  for (const event of events) {
    const reduced = reduce(current, event);
    current = Object.freeze(reduced.model);
    effects = reduced.effects;
  }
  return { model: current, effects };
}

const ticketEvent = (ticket: string): LoginEvent => ({ type: 'ticket', payload: payload(ticket) });
const status = (ticket: string, s: 'pending' | 'scanned' | 'expired' | 'cancelled', visible = true): LoginEvent => ({
  type: 'status',
  payload: { ticket, status: s },
  visible,
});
const shown = (model: LoginModel) => snapshotOf(model).state;
const online: LoginEvent[] = [{ type: 'connected' }, ticketEvent('t1'), status('t1', 'pending')];

describe('what the widget shows', () => {
  it('connects, then shows the QR code as pending, without the secret', () => {
    expect(snapshotOf(initialModel(MAX_AUTO))).toEqual({ state: 'connecting', needsAction: false, autoRefreshes: 0 });
    const { model, effects } = fold(online);
    expect(effects).toEqual([]);
    const snapshot = snapshotOf(model);
    expect(snapshot).toEqual({
      state: 'pending',
      qr: { ticket: 't1', qrUrl: 'http://weixin.qq.com/q/t1', qrImage: 'data:image/png;base64,AAAA', expiresAt: 1_800_000_000_000 },
      needsAction: false,
      autoRefreshes: 0,
    });
    expect(JSON.stringify(snapshot)).not.toContain('secret-of-t1');
  });

  it('follows the ticket it holds and ignores statuses of any other', () => {
    expect(shown(fold([...online, status('t1', 'scanned')]).model)).toBe('scanned');
    expect(shown(fold([...online, status('other', 'scanned')]).model)).toBe('pending');
  });

  it('keeps a resumed ticket’s status until its re-announcement, and a new ticket starts pending', () => {
    const scanned = [...online, status('t1', 'scanned')];
    expect(shown(fold([...scanned, ticketEvent('t1')]).model)).toBe('scanned');
    expect(shown(fold([...scanned, ticketEvent('t2')]).model)).toBe('pending');
  });

  it('shows a cancelled login as needing the user', () => {
    expect(snapshotOf(fold([...online, status('t1', 'scanned'), status('t1', 'cancelled')]).model)).toMatchObject({
      state: 'cancelled',
      needsAction: true,
    });
  });

  it('shows offline while a cut connection comes back, and the QR code again once it has', () => {
    const cut = fold([...online, { type: 'disconnected', reason: 'transport close' }]);
    expect(shown(cut.model)).toBe('offline');
    expect(cut.effects).toEqual([]);
    expect(shown(fold([{ type: 'connected' }, ticketEvent('t1')], cut.model).model)).toBe('pending');
  });
});

describe('expired QR codes', () => {
  it('are replaced by themselves on a visible page: expired is shown, then a refresh is emitted', () => {
    const { model, effects } = fold([...online, status('t1', 'expired')]);
    expect(effects).toEqual([
      { type: 'show', snapshot: expect.objectContaining({ state: 'expired', needsAction: false }) },
      { type: 'emit-refresh' },
    ]);
    expect(snapshotOf(model)).toMatchObject({ state: 'connecting', autoRefreshes: 1 });
    expect(shown(fold([ticketEvent('t2')], model).model)).toBe('pending');
  });

  it('wait on a hidden page until it is visible again', () => {
    const hidden = fold([...online, status('t1', 'expired', false)]);
    expect(hidden.effects).toEqual([{ type: 'show', snapshot: expect.objectContaining({ state: 'expired' }) }]);
    expect(snapshotOf(hidden.model)).toMatchObject({ state: 'expired', needsAction: false, autoRefreshes: 0 });
    expect(fold([{ type: 'visible', connected: true }], hidden.model).effects).toEqual([{ type: 'emit-refresh' }]);
  });

  it('ask the user once the automatic refreshes in a row are spent; a click or a scan re-arms them', () => {
    const spent = fold([
      ...online,
      status('t1', 'expired'),
      ticketEvent('t2'),
      status('t2', 'expired'),
      ticketEvent('t3'),
      status('t3', 'expired'),
    ]);
    expect(spent.effects).toEqual([{ type: 'show', snapshot: expect.objectContaining({ state: 'expired' }) }]);
    expect(snapshotOf(spent.model)).toMatchObject({ state: 'expired', needsAction: true, autoRefreshes: MAX_AUTO });
    expect(fold([{ type: 'visible', connected: true }], spent.model).effects).toEqual([]);

    const clicked = fold([{ type: 'refresh-clicked', connected: true }], spent.model);
    expect(clicked.effects).toEqual([{ type: 'cancel-retry' }, { type: 'emit-refresh' }]);
    expect(snapshotOf(clicked.model)).toMatchObject({ state: 'connecting', autoRefreshes: 0 });

    const scannedOnce = fold([ticketEvent('t4'), status('t4', 'scanned')], { ...spent.model, refreshing: true });
    expect(scannedOnce.model.autoRefreshes).toBe(0);
  });

  it('ask for a new ticket over a new connection when the socket is down', () => {
    const { model, effects } = fold([
      ...online,
      { type: 'disconnected', reason: 'transport close' },
      { type: 'refresh-clicked', connected: false },
    ]);
    expect(effects).toEqual([{ type: 'cancel-retry' }, { type: 'connect' }]);
    expect(model.held).toBeUndefined();
  });
});

describe('the login', () => {
  it('exchanges the code with the held secret, shows confirmed meanwhile, then signed in', () => {
    const login: LoginEvent = { type: 'login', payload: { ticket: 't1', code: 't1.code', user: { nickname: 'Alice' }, version: 3 } };
    const exchanging = fold([...online, status('t1', 'scanned'), login]);
    expect(exchanging.effects).toEqual([{ type: 'exchange', code: 't1.code', secret: 'secret-of-t1', user: { nickname: 'Alice' } }]);
    expect(shown(exchanging.model)).toBe('confirmed');
    // A second delivery of the login, or a new ticket, changes nothing while the exchange runs.
    expect(fold([login, ticketEvent('t9')], exchanging.model).model).toEqual(exchanging.model);

    const signedIn = fold([{ type: 'signed-in', openid: 'o_alice', user: { nickname: 'Alice' } }], exchanging.model);
    expect(signedIn.effects).toEqual([{ type: 'disconnect' }]);
    expect(snapshotOf(signedIn.model)).toMatchObject({ state: 'signed-in', session: { openid: 'o_alice', user: { nickname: 'Alice' } } });
    expect(signedIn.model.held).toBeUndefined();
    expect(
      fold(
        [
          { type: 'refresh-clicked', connected: false },
          { type: 'disconnected', reason: 'transport close' },
        ],
        signedIn.model,
      ).effects,
    ).toEqual([]);
  });

  it('remembers the last version received, for the resume handshake: a confirmed status counts only once its login came', () => {
    const versioned = (s: 'pending' | 'scanned' | 'confirmed', version: number): LoginEvent => ({
      type: 'status',
      payload: { ticket: 't1', status: s, version },
      visible: true,
    });
    expect(fold(online).model.held?.version).toBeUndefined();
    const scanned = fold([...online, versioned('scanned', 2)]).model;
    expect(scanned.held?.version).toBe(2);
    // An older re-announcement never lowers it; the confirmed status alone does not raise it.
    expect(fold([versioned('pending', 1), versioned('confirmed', 3)], scanned).model.held?.version).toBe(2);
    // The resume's `ticket` event keeps it; the login raises it.
    const resumed = fold([ticketEvent('t1')], scanned).model;
    expect(resumed.held?.version).toBe(2);
    const login: LoginEvent = { type: 'login', payload: { ticket: 't1', code: 't1.code', user: {}, version: 3 } };
    expect(fold([login], resumed).model.held?.version).toBe(3);
    // A new ticket starts from nothing.
    expect(fold([{ type: 'refresh-clicked', connected: true }, ticketEvent('t2')], scanned).model.held).toEqual({
      ticket: 't2',
      secret: 'secret-of-t2',
    });
  });

  it('remembers which socket holds its ticket, for the resume handshake to name the one it replaces', () => {
    // A fresh ticket: the socket it came on holds it.
    const first = fold([
      { type: 'connected', socket: 's1' },
      { type: 'ticket', payload: payload('t1'), socket: 's1' },
    ]).model;
    expect(first.held).toEqual({ ticket: 't1', secret: 'secret-of-t1', socket: 's1' });
    // A resume that connected holds it as soon as it connected, even if it drops before its `ticket` event.
    const dropped = fold([{ type: 'disconnected', reason: 'transport close' }], first).model;
    const resumed = fold(
      [
        { type: 'connected', socket: 's2' },
        { type: 'disconnected', reason: 'transport error' },
      ],
      dropped,
    ).model;
    expect(resumed.held).toEqual({ ticket: 't1', secret: 'secret-of-t1', socket: 's2' });
    // A refused resume changes nothing: the next one names the same socket.
    const refused: LoginEvent = { type: 'connect-error', code: 'TICKET_IN_USE', message: 'in use', active: false, visible: true };
    expect(fold([refused], resumed).model.held?.socket).toBe('s2');
    // A new ticket on the same socket is held by it; one asked for over a new connection starts afresh.
    expect(
      fold(
        [
          { type: 'refresh-clicked', connected: true },
          { type: 'ticket', payload: payload('t2'), socket: 's2' },
        ],
        resumed,
      ).model.held,
    ).toEqual({
      ticket: 't2',
      secret: 'secret-of-t2',
      socket: 's2',
    });
    const asked = fold([{ type: 'refresh-clicked', connected: false }], resumed).model;
    expect(asked.held).toBeUndefined();
    expect(fold([{ type: 'connected', socket: 's3' }], asked).model.held).toBeUndefined();
  });

  it('resumes without replaces once a gateway older than it refused the field (a rolling update)', () => {
    const invalid: LoginEvent = {
      type: 'connect-error',
      code: 'INVALID_PAYLOAD',
      message: 'invalid payload',
      active: false,
      visible: true,
    };
    const named = fold([
      { type: 'connected', socket: 's1' },
      { type: 'ticket', payload: payload('t1'), socket: 's1' },
    ]).model;
    expect(replacedSocket(named)).toBe('s1');
    // Refused with `replaces`: the same ticket is resumed at once, without it, from then on.
    const retried = fold([invalid], named);
    expect(retried.effects).toEqual([{ type: 'connect' }]);
    expect(retried.model.held).toEqual(named.held);
    expect(replacedSocket(retried.model)).toBeUndefined();
    expect(replacedSocket(fold([{ type: 'connected', socket: 's2' }], retried.model).model)).toBeUndefined();
    // Refused without it: the ticket is gone, as before.
    const lost = fold([invalid], retried.model);
    expect(lost.model.held).toBeUndefined();
    expect(lost.effects).toEqual([{ type: 'show', snapshot: expect.anything() }, { type: 'connect' }]);
  });

  it('ignores a login for a ticket it does not hold', () => {
    const { model, effects } = fold([...online, { type: 'login', payload: { ticket: 'other', code: 'x', user: {}, version: 2 } }]);
    expect(effects).toEqual([]);
    expect(shown(model)).toBe('pending');
  });

  it('shows a failed exchange as an error that needs the user', () => {
    const failed = fold([
      ...online,
      { type: 'login', payload: { ticket: 't1', code: 't1.code', user: {}, version: 2 } },
      { type: 'exchange-failed', error: { code: 'NETWORK', message: 'offline' } },
    ]);
    expect(snapshotOf(failed.model)).toMatchObject({ state: 'error', error: { code: 'NETWORK', message: 'offline' }, needsAction: true });
  });
});

describe('refusals and cut connections', () => {
  it('retries a server-ended session and a draining gateway later, backing off up to a cap', () => {
    let model = fold(online).model;
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const reduced = fold([{ type: 'connect-error', code: 'SHUTTING_DOWN', message: 'draining', active: false, visible: true }], model);
      model = reduced.model;
      for (const e of reduced.effects) if (e.type === 'retry-later') delays.push(e.delayMs);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, MAX_RETRY_MS, MAX_RETRY_MS]);
    expect(shown(model)).toBe('offline');
    // Connected again: the next trouble starts from the short delay.
    const back = fold([{ type: 'connected' }, { type: 'disconnected', reason: 'io server disconnect' }], model);
    expect(back.effects).toEqual([{ type: 'retry-later', delayMs: SHUTDOWN_RETRY_MS }]);
  });

  it('retries a busy gateway (GATEWAY_BUSY) the same way, however many times, keeping its ticket', () => {
    let model = fold(online).model;
    const held = model.held;
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const reduced = fold([{ type: 'connect-error', code: 'GATEWAY_BUSY', message: 'busy', active: false, visible: true }], model);
      model = reduced.model;
      for (const e of reduced.effects) if (e.type === 'retry-later') delays.push(e.delayMs);
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, MAX_RETRY_MS]);
    expect(shown(model)).toBe('offline');
    expect(model.held).toEqual(held);
  });

  it('treats a lost ticket like an expiry: a new one over a new connection', () => {
    const { model, effects } = fold([
      ...online,
      { type: 'connect-error', code: 'TICKET_NOT_FOUND', message: 'unknown or expired ticket', active: false, visible: true },
    ]);
    expect(effects).toEqual([{ type: 'show', snapshot: expect.objectContaining({ state: 'expired' }) }, { type: 'connect' }]);
    expect(model.held).toBeUndefined();
    expect(shown(model)).toBe('connecting');
  });

  it('retries INTERNAL and WECHAT_UNAVAILABLE a few times, then asks the user', () => {
    let model = fold(online).model;
    const refuse: LoginEvent = { type: 'connect-error', code: 'WECHAT_UNAVAILABLE', message: 'busy', active: false, visible: true };
    for (let i = 0; i < MAX_TRANSIENT_RETRIES; i++) {
      const reduced = fold([refuse], model);
      expect(reduced.effects).toEqual([{ type: 'retry-later', delayMs: expect.any(Number) }]);
      model = reduced.model;
    }
    const given = fold([refuse], model);
    expect(given.effects).toEqual([]);
    expect(snapshotOf(given.model)).toMatchObject({
      state: 'error',
      error: { code: 'WECHAT_UNAVAILABLE', message: 'busy' },
      needsAction: true,
    });
    // A connection that worked in between starts the count again.
    expect(fold([{ type: 'connected' }, { ...refuse, code: 'INTERNAL' }], model).effects).toHaveLength(1);
  });

  it('retries STORE_UNAVAILABLE like INTERNAL', () => {
    const refuse: LoginEvent = { type: 'connect-error', code: 'STORE_UNAVAILABLE', message: 'store', active: false, visible: true };
    const reduced = fold([refuse], fold(online).model);
    expect(reduced.effects).toEqual([{ type: 'retry-later', delayMs: expect.any(Number) }]);
    expect(reduced.model.transientFailures).toBe(1);
  });

  it('retries TICKET_IN_USE like INTERNAL: the place its own dead socket held lapses', () => {
    const refuse: LoginEvent = { type: 'connect-error', code: 'TICKET_IN_USE', message: 'in use', active: false, visible: true };
    const reduced = fold([refuse], fold(online).model);
    expect(reduced.effects).toEqual([{ type: 'retry-later', delayMs: expect.any(Number) }]);
    expect(reduced.model.transientFailures).toBe(1);
  });

  it('does not reconnect when the gateway hangs up a ticket that is over, until the page is seen or clicked', () => {
    const expiredHidden = fold([...online, status('t1', 'expired', false)]).model;
    const hungUp = fold([{ type: 'disconnected', reason: 'io server disconnect' }], expiredHidden);
    expect(hungUp.effects).toEqual([]);
    expect(shown(hungUp.model)).toBe('expired');
    // Seen again: a new code over a new connection (the socket is gone).
    expect(fold([{ type: 'visible', connected: false }], hungUp.model).effects).toEqual([{ type: 'connect' }]);
    // A ticket still open whose session the server ended (a restart) is retried as before.
    const open = fold([{ type: 'disconnected', reason: 'io server disconnect' }], fold(online).model);
    expect(open.effects).toEqual([{ type: 'retry-later', delayMs: SHUTDOWN_RETRY_MS }]);
  });

  it('shows any other refusal as an error at once', () => {
    const { model, effects } = fold([
      { type: 'connect-error', code: 'ORIGIN_NOT_ALLOWED', message: 'origin not allowed', active: false, visible: true },
    ]);
    expect(effects).toEqual([]);
    expect(snapshotOf(model)).toMatchObject({ state: 'error', error: { code: 'ORIGIN_NOT_ALLOWED' } });
  });

  it('leaves network trouble to Socket.IO while it retries, and retries itself once it gave up', () => {
    const trying = fold([...online, { type: 'connect-error', code: undefined, message: 'xhr poll error', active: true, visible: true }]);
    expect(trying.effects).toEqual([]);
    expect(shown(trying.model)).toBe('offline');
    const gaveUp = fold(
      [{ type: 'connect-error', code: undefined, message: 'xhr poll error', active: false, visible: true }],
      trying.model,
    );
    expect(gaveUp.effects).toEqual([{ type: 'retry-later', delayMs: SHUTDOWN_RETRY_MS }]);
  });

  it('answers to a refresh: a timeout or a refusal is an error, REFRESH_LIMIT a fresh socket, a ticket nothing', () => {
    const asked = fold([...online, { type: 'refresh-clicked', connected: true }]).model;
    expect(snapshotOf(fold([{ type: 'refresh-answered', answer: 'timeout' }], asked).model)).toMatchObject({
      state: 'error',
      error: { code: 'INTERNAL', message: 'the gateway did not answer' },
    });
    const limited = fold([{ type: 'refresh-answered', answer: { error: { code: 'REFRESH_LIMIT', message: 'too many' } } }], asked);
    expect(limited.effects).toEqual([{ type: 'reconnect' }]);
    expect(limited.model.held).toBeUndefined();
    const refused = fold([{ type: 'refresh-answered', answer: { error: { code: 'RATE_LIMITED', message: 'slow down' } } }], asked);
    expect(snapshotOf(refused.model)).toMatchObject({ state: 'error', error: { code: 'RATE_LIMITED', message: 'slow down' } });
    expect(fold([{ type: 'refresh-answered', answer: payload('t2') }], asked)).toEqual({ model: asked, effects: [] });
  });

  it('ignores its own disconnect and everything but its refusals after sign-in', () => {
    expect(fold([...online, { type: 'disconnected', reason: 'io client disconnect' }]).model).toEqual(fold(online).model);
  });
});
