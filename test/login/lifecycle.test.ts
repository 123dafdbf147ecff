/**
 * The login use cases (`libs/login`) end to end, in process, over the memory engine: no HTTP, no socket, no
 * WeChat. A ticket is issued, scanned, decided, redeemed or expired; each step is checked in the store, on
 * the bus (the doorbell), in the metrics and in the login counter.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryEngine, type Engine, type TicketChange } from '../../libs/engine/index.js';
import { createLoginService, RING_ATTEMPTS, type LoginService } from '../../libs/login/index.js';
import { createLogger, createMetrics, type Metrics } from '../../libs/observability/index.js';
import {
  loginCountKey,
  newSecret,
  newTicketId,
  REDEEM_REPLAY_SECONDS,
  sessionIdentityOf,
  ticketIdOfCode,
  type Ticket,
} from '../../libs/ticket/index.js';
import { eventually } from '../support/engine-contract.js';
import { APP_ID } from '../support/fixtures.js';

/** What WeChat's push says about the scanned code: its QR ticket, delivered to the account that issued it. */
const qrOf = (ticket: Ticket) => ({ qrTicket: ticket.qr.wechatTicket, appId: ticket.qr.appId });

const logger = createLogger({ app: 'test', level: 'silent' });
const BROWSER = { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0', ip: '203.0.113.7' };
const TTL_SECONDS = 120;

const counterValue = async (metrics: Metrics, name: keyof Metrics): Promise<number> => {
  const metric = metrics[name] as { get(): Promise<{ values: { value: number }[] }> };
  return (await metric.get()).values.reduce((sum, v) => sum + v.value, 0);
};

describe('login use cases over the memory engine', () => {
  let clock: number;
  let engine: Engine;
  let metrics: Metrics;
  let login: LoginService;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(() => {
    clock = 1_800_000_000_000;
    engine = createMemoryEngine({ now: () => clock });
    metrics = createMetrics();
    login = createLoginService({ engine, metrics, logger, now: () => clock, ringBackoffMs: 1 });
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    await engine.close();
  });

  /** Issue a ticket and listen to its doorbell. */
  async function issued(): Promise<{ ticket: Ticket; secret: string; rings: TicketChange[] }> {
    const id = newTicketId();
    const secret = newSecret();
    const qr = { url: `http://weixin.qq.com/q/${id}`, wechatTicket: `gQ-${id}`, appId: APP_ID };
    const outcome = await login.issue({ id, secret, qr, browser: BROWSER, ttlSeconds: TTL_SECONDS });
    if (!outcome.ok) throw new Error('issue failed');
    const rings: TicketChange[] = [];
    const stopRings = engine.events.onRing((change) => change.ticket === id && rings.push(change));
    await engine.events.subscribe(id);
    stops.push(async () => {
      stopRings();
      await engine.events.unsubscribe(id);
    });
    return { ticket: outcome.ticket, secret, rings };
  }

  it('issue stores a pending ticket and counts it', async () => {
    const { ticket } = await issued();
    expect(await engine.tickets.get(ticket.id)).toMatchObject({
      id: ticket.id,
      status: 'pending',
      version: 1,
      expiresAt: clock + TTL_SECONDS * 1000,
    });
    expect(await counterValue(metrics, 'ticketsCreated')).toBe(1);
  });

  it('issue says store_unavailable when the store refuses the ticket', async () => {
    const broken: Engine = { ...engine, tickets: { ...engine.tickets, create: () => Promise.reject(new Error('injected: store down')) } };
    const failing = createLoginService({ engine: broken, metrics, logger, now: () => clock });
    const outcome = await failing.issue({
      id: newTicketId(),
      secret: newSecret(),
      qr: { url: 'u', wechatTicket: 'w', appId: APP_ID },
      browser: BROWSER,
      ttlSeconds: TTL_SECONDS,
    });
    expect(outcome).toMatchObject({ ok: false, reason: 'store_unavailable' });
    expect(await counterValue(metrics, 'ticketsCreated')).toBe(0);
  });

  it('scan mode: scan confirms, rings once, counts the login; the code redeems once with the secret', async () => {
    const { ticket, secret, rings } = await issued();

    const scanned = await login.scan({ ticketId: ticket.id, openid: 'o_alice', mode: 'scan', ...qrOf(ticket) });

    expect(scanned).toMatchObject({ kind: 'confirmed', changed: true, told: true, loginCount: 1 });
    if (scanned.kind !== 'confirmed') throw new Error('not confirmed');
    const code = scanned.ticket.code!;
    expect(ticketIdOfCode(code)).toBe(ticket.id);
    await eventually(() => rings.length === 1);
    expect(rings).toEqual([{ ticket: ticket.id, version: 2 }]);
    expect(await counterValue(metrics, 'ticketsScanned')).toBe(1);
    expect(await counterValue(metrics, 'ticketsConfirmed')).toBe(1);

    expect(await login.redeem({ code, secret: newSecret() })).toEqual({ ok: false, reason: 'secret_mismatch' });
    const redeemed = await login.redeem({ code, secret });
    expect(redeemed).toMatchObject({ ok: true, openid: 'o_alice' });
    expect((await engine.tickets.get(ticket.id))?.status).toBe('consumed');
    expect(await login.redeem({ code: 'not-a-code', secret })).toEqual({ ok: false, reason: 'malformed' });
    expect(await counterValue(metrics, 'ticketsConsumed')).toBe(1);
  });

  it('a redeemed code: the same code and secret again within the grace replay that one redemption; anyone else, or later, is refused', async () => {
    const { ticket, secret } = await issued();
    const scanned = await login.scan({
      ticketId: ticket.id,
      openid: 'o_alice',
      mode: 'scan',
      qrTicket: ticket.qr.wechatTicket,
      appId: APP_ID,
    });
    if (scanned.kind !== 'confirmed') throw new Error('not confirmed');
    const code = scanned.ticket.code!;
    const first = await login.redeem({ code, secret });
    expect(first).toMatchObject({ ok: true, replayed: false, openid: 'o_alice' });
    const consumed = await engine.tickets.get(ticket.id);

    // The answer was lost; the browser asks again: the same result, nothing written, nothing counted.
    clock += (REDEEM_REPLAY_SECONDS - 1) * 1000;
    const replay = await login.redeem({ code, secret });
    expect(replay).toMatchObject({ ok: true, replayed: true, openid: 'o_alice' });
    if (!replay.ok || !first.ok) throw new Error('not redeemed');
    expect(sessionIdentityOf(replay.ticket)).toEqual(sessionIdentityOf(first.ticket));
    expect(await engine.tickets.get(ticket.id)).toEqual(consumed);
    expect(await counterValue(metrics, 'ticketsConsumed')).toBe(1);

    // Without the secret it is a reused code, grace or not.
    expect(await login.redeem({ code, secret: newSecret() })).toEqual({ ok: false, reason: 'already_consumed' });
    // A different code of the same ticket is no replay either.
    expect(await login.redeem({ code: `${ticket.id}.${'A'.repeat(22)}`, secret })).toEqual({ ok: false, reason: 'already_consumed' });
    // Once the grace has passed, even the browser itself is told the code was used.
    clock += 1000;
    expect(await login.redeem({ code, secret })).toEqual({ ok: false, reason: 'already_consumed' });
    expect(await engine.tickets.get(ticket.id)).toEqual(consumed);
  });

  it('a repeated scan by the same scanner changes nothing, rings again and counts nothing more', async () => {
    const { ticket, rings } = await issued();
    await login.scan({ ticketId: ticket.id, openid: 'o_bob', mode: 'scan', ...qrOf(ticket) });
    const again = await login.scan({ ticketId: ticket.id, openid: 'o_bob', mode: 'scan', ...qrOf(ticket) });

    expect(again).toMatchObject({ kind: 'confirmed', changed: false, told: true });
    await eventually(() => rings.length === 2);
    expect(rings.map((r) => r.version)).toEqual([2, 2]);
    expect(await engine.kv.get(loginCountKey('o_bob'))).toBe('1');
    expect(await counterValue(metrics, 'ticketsConfirmed')).toBe(1);
  });

  it('another scanner is refused; an unknown or foreign-QR scene is unknown', async () => {
    const { ticket } = await issued();
    expect(await login.scan({ ticketId: ticket.id, openid: 'o_x', mode: 'scan', qrTicket: 'gQ-someone-else', appId: APP_ID })).toEqual({
      kind: 'unknown',
    });
    expect((await engine.tickets.get(ticket.id))?.version).toBe(1);
    await login.scan({ ticketId: ticket.id, openid: 'o_first', mode: 'tap', ...qrOf(ticket) });
    expect(await login.scan({ ticketId: ticket.id, openid: 'o_second', mode: 'tap', ...qrOf(ticket) })).toEqual({
      kind: 'refused',
      reason: 'already_scanned',
    });
    expect(await login.scan({ ticketId: newTicketId(), openid: 'o_x', mode: 'scan', qrTicket: 'gQ-none', appId: APP_ID })).toEqual({
      kind: 'unknown',
    });
  });

  it('a scan without the QR ticket, or received by another AppID (a demo sharing the store), is unknown and changes nothing', async () => {
    const { ticket, rings } = await issued();
    const before = await engine.tickets.get(ticket.id);
    expect(await login.scan({ ticketId: ticket.id, openid: 'o_x', mode: 'scan', qrTicket: '', appId: APP_ID })).toEqual({
      kind: 'unknown',
    });
    expect(
      await login.scan({ ticketId: ticket.id, openid: 'o_x', mode: 'scan', qrTicket: ticket.qr.wechatTicket, appId: 'wxdemo0000000000' }),
    ).toEqual({
      kind: 'unknown',
    });
    expect(await engine.tickets.get(ticket.id)).toEqual(before);
    expect(rings).toEqual([]);
    expect(await counterValue(metrics, 'ticketsScanned')).toBe(0);
  });

  it('tap mode: scan, then confirm on the phone; the code is minted at the confirmation', async () => {
    const { ticket, secret, rings } = await issued();
    const scanned = await login.scan({ ticketId: ticket.id, openid: 'o_carol', mode: 'tap', ...qrOf(ticket) });
    expect(scanned).toMatchObject({ kind: 'scanned', changed: true, told: true });
    if (scanned.kind !== 'scanned') throw new Error('not scanned');
    expect(scanned.ticket.code).toBeUndefined();

    expect(await login.decide({ ticketId: ticket.id, openid: 'o_mallory', action: 'confirm' })).toEqual({
      kind: 'refused',
      reason: 'wrong_user',
    });
    const decided = await login.decide({ ticketId: ticket.id, openid: 'o_carol', action: 'confirm' });
    expect(decided).toMatchObject({ kind: 'confirmed', told: true, loginCount: 1 });
    if (decided.kind !== 'confirmed') throw new Error('not confirmed');
    await eventually(() => rings.length === 2);
    expect(rings).toEqual([
      { ticket: ticket.id, version: 2 },
      { ticket: ticket.id, version: 3 },
    ]);
    // The same tap again (its first answer was an error, or got lost): answered as the first, nothing
    // written or counted, and the doorbell rung again for the same version. Anyone else is still refused.
    expect(await login.decide({ ticketId: ticket.id, openid: 'o_carol', action: 'confirm' })).toEqual({
      kind: 'confirmed',
      ticket: decided.ticket,
      changed: false,
      told: true,
    });
    expect(await login.decide({ ticketId: ticket.id, openid: 'o_mallory', action: 'confirm' })).toEqual({
      kind: 'refused',
      reason: 'finished',
    });
    expect(await login.decide({ ticketId: ticket.id, openid: 'o_carol', action: 'cancel' })).toEqual({
      kind: 'refused',
      reason: 'finished',
    });
    await eventually(() => rings.length === 3);
    expect(rings[2]).toEqual({ ticket: ticket.id, version: 3 });
    expect(await engine.tickets.get(ticket.id)).toEqual(decided.ticket);
    expect(await counterValue(metrics, 'ticketsConfirmed')).toBe(1);
    expect(await engine.kv.get(loginCountKey('o_carol'))).toBe('1');
    expect(await login.redeem({ code: decided.ticket.code!, secret })).toMatchObject({ ok: true, openid: 'o_carol' });
  });

  it('tap mode: "not me" cancels, rings, and leaves nothing to redeem', async () => {
    const { ticket, rings } = await issued();
    await login.scan({ ticketId: ticket.id, openid: 'o_dave', mode: 'tap', ...qrOf(ticket) });
    const decided = await login.decide({ ticketId: ticket.id, openid: 'o_dave', action: 'cancel' });
    expect(decided).toMatchObject({ kind: 'cancelled', told: true });
    await eventually(() => rings.length === 2);
    expect(rings[1]).toEqual({ ticket: ticket.id, version: 3 });
    expect(await counterValue(metrics, 'ticketsCancelled')).toBe(1);
    expect(await engine.kv.get(loginCountKey('o_dave'))).toBeNull();

    // "Not me" again by the same scanner: answered as the first, rung again, nothing written or counted; a
    // confirm after it, or anyone else's "not me", is refused.
    if (decided.kind !== 'cancelled') throw new Error('not cancelled');
    expect(await login.decide({ ticketId: ticket.id, openid: 'o_dave', action: 'cancel' })).toEqual({
      kind: 'cancelled',
      ticket: decided.ticket,
      changed: false,
      told: true,
    });
    expect(await login.decide({ ticketId: ticket.id, openid: 'o_dave', action: 'confirm' })).toEqual({
      kind: 'refused',
      reason: 'finished',
    });
    expect(await login.decide({ ticketId: ticket.id, openid: 'o_mallory', action: 'cancel' })).toEqual({
      kind: 'refused',
      reason: 'finished',
    });
    await eventually(() => rings.length === 3);
    expect(rings[2]).toEqual({ ticket: ticket.id, version: 3 });
    expect(await engine.tickets.get(ticket.id)).toEqual(decided.ticket);
    expect(await counterValue(metrics, 'ticketsCancelled')).toBe(1);
  });

  it('expire records expired once, after the TTL only, and rings; then the ticket is gone after its retention', async () => {
    const { ticket, rings } = await issued();
    expect(await login.expire(ticket.id)).toMatchObject({ kind: 'unchanged' });
    clock += TTL_SECONDS * 1000;
    const expired = await login.expire(ticket.id);
    expect(expired).toMatchObject({ kind: 'expired', told: true });
    expect(await login.expire(ticket.id)).toMatchObject({ kind: 'unchanged' });
    await eventually(() => rings.length === 1);
    expect(rings).toEqual([{ ticket: ticket.id, version: 2 }]);
    expect(await counterValue(metrics, 'ticketsExpired')).toBe(1);
    expect(await login.scan({ ticketId: ticket.id, openid: 'o_late', mode: 'scan', ...qrOf(ticket) })).toEqual({ kind: 'unknown' });
    clock += 24 * 3600 * 1000;
    expect(await login.expire(ticket.id)).toEqual({ kind: 'gone' });
  });

  it('the doorbell retries a failing bus, and says when it never got through (the write stands)', async () => {
    let failures = RING_ATTEMPTS;
    const flaky: Engine = {
      ...engine,
      events: {
        ...engine.events,
        publish: (change) => (failures-- > 0 ? Promise.reject(new Error('injected: bus down')) : engine.events.publish(change)),
      },
    };
    const service = createLoginService({ engine: flaky, metrics, logger, now: () => clock, ringBackoffMs: 1 });
    const { ticket, rings } = await issued();

    const lost = await service.scan({ ticketId: ticket.id, openid: 'o_erin', mode: 'scan', ...qrOf(ticket) });
    expect(lost).toMatchObject({ kind: 'confirmed', changed: true, told: false });
    expect((await engine.tickets.get(ticket.id))?.status).toBe('confirmed');

    // The re-run (WeChat's re-send) rings again and is heard; the login is not counted twice.
    const rerun = await service.scan({ ticketId: ticket.id, openid: 'o_erin', mode: 'scan', ...qrOf(ticket) });
    expect(rerun).toMatchObject({ kind: 'confirmed', changed: false, told: true });
    await eventually(() => rings.length === 1);
    expect(rings).toEqual([{ ticket: ticket.id, version: 2 }]);
    expect(await engine.kv.get(loginCountKey('o_erin'))).toBe('1');
  });

  it('the login counter counts per user and forgets a user who unfollows', async () => {
    for (let i = 0; i < 2; i++) {
      const { ticket } = await issued();
      await login.scan({ ticketId: ticket.id, openid: 'o_frank', mode: 'scan', ...qrOf(ticket) });
    }
    expect(await engine.kv.get(loginCountKey('o_frank'))).toBe('2');
    await login.counter.forget('o_frank');
    expect(await engine.kv.get(loginCountKey('o_frank'))).toBeNull();
  });
});
