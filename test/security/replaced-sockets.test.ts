/**
 * Issue 9, scenario a: a browser's own dead sockets must not lock it out of its ticket. A resume may name the
 * socket it replaces (`auth.replaces`); if that socket still holds one of the ticket's two places, the place
 * is the new socket's and the old one is disconnected; renewal never takes a place back. Against the gateway
 * in process (fake clock, real Socket.IO over 127.0.0.1). The two sockets already on a ticket stand for a
 * browser's zombies: as far as the gateway can tell, a connection whose browser vanished is as open as these.
 * The limit itself is tested unchanged in sockets.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { LEASE_TTL_MS, MAX_SOCKETS_PER_TICKET, RENEW_EVERY_MS } from '../../apps/gateway/ticket-holders.js';
import { ConnectError, type LoginBrowser } from '../support/login-browser.js';
import { startGateway, type GatewayHarness } from '../support/gateway-harness.js';

let harness: GatewayHarness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});
const start = async (env: Record<string, string> = {}): Promise<GatewayHarness> => {
  harness = await startGateway({ TICKET_TTL_SECONDS: '600', ...env });
  return harness;
};

const LOST = 'socket lost its place on the ticket (replaced or lapsed): disconnecting it';

/** The reason the browser's socket was disconnected, once it was (`reason()` is undefined until then). */
function disconnection(browser: LoginBrowser): { reason(): string | undefined } {
  let reason: string | undefined;
  browser.socket.once('disconnect', (r) => {
    reason = r;
  });
  return { reason: () => reason };
}

/** Move the clock in small steps until `done` holds (socket I/O runs in between). */
async function settled(h: GatewayHarness, done: () => boolean): Promise<void> {
  for (let step = 0; step < 100 && !done(); step++) await h.advance(50);
  expect(done()).toBe(true);
}

/** A ticket held by two open sockets: its places are full. */
async function fullTicket(h: GatewayHarness) {
  const first = await h.open();
  const resume = { ticket: first.ticket.ticket, secret: first.ticket.secret };
  const second = await h.open({ resume });
  const idOf = (browser: LoginBrowser): string => {
    if (browser.socket.id === undefined) throw new Error('socket not connected');
    return browser.socket.id;
  };
  return { first, second, resume, idOf };
}

describe('a resume naming the socket it replaces (auth.replaces)', () => {
  it("takes that socket's place on a full ticket, and the named socket is disconnected", async () => {
    const h = await start();
    const { first, second, resume, idOf } = await fullTicket(h);
    const secondGone = disconnection(second);
    const secondId = idOf(second);

    const third = await h.open({ resume: { ...resume, replaces: secondId } });

    expect(third.ticket.ticket).toBe(resume.ticket);
    await settled(h, () => secondGone.reason() !== undefined);
    expect(secondGone.reason()).toBe('io server disconnect');
    await h.logged(LOST);
    await settled(h, () => h.gateway.socketCount === MAX_SOCKETS_PER_TICKET);
    expect(first.socket.connected).toBe(true);
    expect(third.socket.connected).toBe(true);
    // Still two places: a crowd naming nobody, or naming the socket already replaced, is refused.
    for (const auth of [resume, { ...resume, replaces: secondId }]) {
      const refused = await h.open({ resume: auth }).catch((e: unknown) => e);
      expect((refused as ConnectError).code).toBe('TICKET_IN_USE');
    }
    // The ticket itself is as it was.
    expect((await h.engine.tickets.get(resume.ticket))?.version).toBe(1);
    expect(h.wechat.calls).toHaveLength(1);
  });

  it('names no socket it may take: an unknown id, the replaced one, or a holder of another ticket are refused TICKET_IN_USE', async () => {
    const h = await start();
    const { first, second, resume, idOf } = await fullTicket(h);
    const replaced = idOf(second);
    (await h.open({ resume: { ...resume, replaces: replaced } })).close();
    await settled(h, () => h.gateway.socketCount === 1);
    // The place freed by that close is taken again, so the ticket is full once more.
    const again = await h.open({ resume });
    const elsewhere = await h.open();

    for (const replaces of ['AAAAAAAAAAAAAAAAAAAA', replaced, idOf(elsewhere)]) {
      const refused = await h.open({ resume: { ...resume, replaces } }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConnectError);
      expect((refused as ConnectError).code).toBe('TICKET_IN_USE');
    }
    await h.advance(100);
    // Nothing changed: the ticket's sockets and the other ticket's socket are all still there.
    expect([first, again, elsewhere].map((b) => b.socket.connected)).toEqual([true, true, true]);
    expect(h.gateway.socketCount).toBe(3);
    expect(h.logs()).toContain(LOST);
    expect(h.logs().split(LOST)).toHaveLength(2);
  });

  it('a socket whose place a resume on another gateway took is disconnected at its next renewal, and never takes it back', async () => {
    const h = await start();
    const { first, second, resume, idOf } = await fullTicket(h);
    const secondGone = disconnection(second);
    // Another gateway's resume named `second`: the place changed hands in the engine, this gateway was not told.
    const key = `ticket-sockets:${resume.ticket}`;
    expect(await h.engine.leases.replace(key, idOf(second), 'other-gateway:1', MAX_SOCKETS_PER_TICKET, LEASE_TTL_MS)).toBe(true);
    expect(second.socket.connected).toBe(true);

    await h.advance(RENEW_EVERY_MS);

    await settled(h, () => secondGone.reason() !== undefined);
    expect(secondGone.reason()).toBe('io server disconnect');
    expect(h.logs()).toContain(LOST);
    await settled(h, () => h.gateway.socketCount === 1);
    expect(first.socket.connected).toBe(true);
    // The renewal took no place back: the ticket is still full (first and the other gateway's socket).
    const refused = await h.open({ resume }).catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe('TICKET_IN_USE');
    // And first's place is still renewed: it outlives its first lease.
    await h.advance(LEASE_TTL_MS);
    expect(first.socket.connected).toBe(true);
    expect(await h.engine.leases.renew(key, idOf(first), LEASE_TTL_MS)).toBe(true);
  });

  it('renewal only renews: a replaced socket does not take back a place that fell free meanwhile', async () => {
    const h = await start();
    const { first, second, resume, idOf } = await fullTicket(h);
    const secondGone = disconnection(second);
    // The browser's socket on another gateway took second's place, then dropped too (its place given back).
    const key = `ticket-sockets:${resume.ticket}`;
    expect(await h.engine.leases.replace(key, idOf(second), 'other-gateway:1', MAX_SOCKETS_PER_TICKET, LEASE_TTL_MS)).toBe(true);
    await h.engine.leases.release(key, 'other-gateway:1');

    await h.advance(RENEW_EVERY_MS);

    await settled(h, () => secondGone.reason() !== undefined);
    expect(secondGone.reason()).toBe('io server disconnect');
    await settled(h, () => h.gateway.socketCount === 1);
    // The free place is the browser's next socket's, and then the ticket is full again.
    const next = await h.open({ resume });
    expect(next.ticket.ticket).toBe(resume.ticket);
    const refused = await h.open({ resume }).catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe('TICKET_IN_USE');
    expect(first.socket.connected).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['too long', 'A'.repeat(65)],
    ['not an id', 'a/b?c'],
    ['a number', 42],
    ['null', null],
  ])('refuses a resume whose replaces is %s: INVALID_PAYLOAD, nothing changed', async (_, bad) => {
    const h = await start();
    const { first, second, resume } = await fullTicket(h);

    const refused = await h.open({ resume: { ...resume, replaces: bad as string } }).catch((e: unknown) => e);

    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe('INVALID_PAYLOAD');
    await h.advance(100);
    expect([first.socket.connected, second.socket.connected]).toEqual([true, true]);
    expect(h.logs()).not.toContain(LOST);
  });
});
