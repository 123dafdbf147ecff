/**
 * Issue 16 item 2: the WeChat QR quota cannot be drained. The fleet draws every new ticket from one bucket
 * in the engine (WECHAT_QR_DAILY_QUOTA, spent evenly over the day, a 1% burst, a 5% reserve); when it is
 * short a new ticket or a refresh is refused with RATE_LIMITED and nothing is spent, and the remaining
 * budget is a metric. Every per-client limit groups an IPv6 client by its /64.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clientGroup } from '../../apps/gateway/client-group.js';
import { qrBudgetOptions } from '../../apps/gateway/qr-budget.js';
import { ConnectError } from '../support/login-browser.js';
import { startGateway, type GatewayHarness } from '../support/gateway-harness.js';

let harness: GatewayHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});
const start = async (env: Record<string, string> = {}): Promise<GatewayHarness> => {
  harness = await startGateway(env);
  return harness;
};

/** The budget as a scrape reads it. */
async function budgetMetric(h: GatewayHarness): Promise<{ remaining: number; capacity: number }> {
  const text = await h.metrics.registry.metrics();
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { remaining: value('qrgate_wechat_qr_budget_remaining'), capacity: value('qrgate_wechat_qr_budget_capacity') };
}

describe('the fleet-wide QR budget', () => {
  it('is the quota spent evenly over a day, with a 1% burst and a 5% reserve never spent', () => {
    const options = qrBudgetOptions(100_000);
    expect(options).toEqual({ capacity: 1_000, reserve: 5_000, refillPerSecond: 94_000 / 86_400 });
    // Whatever the timing, a calendar day can spend at most the burst plus a day's refill.
    expect(options.capacity + options.refillPerSecond * 86_400).toBe(100_000 - options.reserve);
  });

  it('refuses a new ticket with RATE_LIMITED when short, spends nothing, and refills at the even pace', async () => {
    // 200 a day: a burst of 2, then one code every 86 400 / 188 s.
    const h = await start({ WECHAT_QR_DAILY_QUOTA: '200', TRUST_PROXY: 'loopback' });
    expect(await budgetMetric(h)).toEqual({ remaining: 2, capacity: 2 });
    await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.1' } });
    await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.2' } });
    // A third address, far below its own per-address limit: the fleet's budget is what refuses it.
    const refused = await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.3' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe('RATE_LIMITED');
    expect((refused as ConnectError).message).toBe('the service is handing out too many QR codes right now; retry in a few minutes');
    expect(h.wechat.calls).toHaveLength(2);
    expect(h.gateway.socketCount).toBe(2);
    expect(await budgetMetric(h)).toEqual({ remaining: 0, capacity: 2 });

    await h.advance(Math.ceil((86_400 / 188) * 1000));
    expect((await budgetMetric(h)).remaining).toBe(1);
    const later = await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.3' } });
    expect(later.ticket.ticket).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(h.wechat.calls).toHaveLength(3);
  });

  it('refuses a refresh with RATE_LIMITED when short, and the socket keeps its ticket', async () => {
    const h = await start({ WECHAT_QR_DAILY_QUOTA: '200' });
    const first = await h.open();
    await h.open();
    const before = first.ticket;
    const ack = await first.refresh();
    expect(ack).toEqual({
      error: { code: 'RATE_LIMITED', message: 'the service is handing out too many QR codes right now; retry in a few minutes' },
    });
    expect(first.ticket).toEqual(before);
    expect((await h.engine.tickets.get(before.ticket))?.status).toBe('pending');
    expect(h.wechat.calls).toHaveLength(2);
  });

  it('is shared by every gateway on the engine: what one spent, another cannot', async () => {
    const h = await start({ WECHAT_QR_DAILY_QUOTA: '200' });
    // Another gateway on the same engine spends the whole burst.
    const options = qrBudgetOptions(200);
    const { reserve: _reserve, ...bucket } = options;
    expect((await h.engine.budgets.take('wechat-qr', bucket)).ok).toBe(true);
    expect((await h.engine.budgets.take('wechat-qr', bucket)).ok).toBe(true);
    const refused = await h.open().catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe('RATE_LIMITED');
    expect(h.wechat.calls).toHaveLength(0);
  });
});

describe('IPv6 clients are grouped by /64', () => {
  it.each([
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['192.0.2.1', '192.0.2.1'],
  ])('%s counts as %s', (ip, group) => {
    expect(clientGroup(ip)).toBe(group);
  });

  it('one /64 shares the per-client ticket limit however many addresses it uses; the next /64 does not', async () => {
    const h = await start({ RATE_LIMIT_TICKETS_PER_MINUTE: '2', TRUST_PROXY: 'loopback' });
    await h.open({ extraHeaders: { 'x-forwarded-for': '2001:db8:a:b::1' } });
    await h.open({ extraHeaders: { 'x-forwarded-for': '2001:db8:a:b:ffff::2' } });
    const refused = await h.open({ extraHeaders: { 'x-forwarded-for': '2001:db8:a:b:1234:5678:9abc:def0' } }).catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe('RATE_LIMITED');
    expect((refused as ConnectError).message).toBe('too many new tickets from this address; retry in a minute');
    expect(h.wechat.calls).toHaveLength(2);
    const neighbour = await h.open({ extraHeaders: { 'x-forwarded-for': '2001:db8:a:c::1' } });
    expect(neighbour.ticket.ticket).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('a client over its ticket limit spends nothing from the fleet’s budget, however often it tries', async () => {
    // 300 a day: a burst of 3.
    const h = await start({ WECHAT_QR_DAILY_QUOTA: '300', RATE_LIMIT_TICKETS_PER_MINUTE: '1', TRUST_PROXY: 'loopback' });
    await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.10' } });
    for (let i = 0; i < 5; i++) {
      const refused = await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.10' } }).catch((e: unknown) => e);
      expect((refused as ConnectError).message).toBe('too many new tickets from this address; retry in a minute');
    }
    expect(await budgetMetric(h)).toEqual({ remaining: 2, capacity: 3 });
    // What it did not spend, other clients get.
    await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.11' } });
    await h.open({ extraHeaders: { 'x-forwarded-for': '192.0.2.12' } });
    expect(h.wechat.calls).toHaveLength(3);
  });
});
