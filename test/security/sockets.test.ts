/**
 * Issue 16 items 1 and 3, against the gateway in process (fake clock, real Socket.IO over 127.0.0.1):
 * only `/login` takes sockets, a foreign Origin and a crowd from one address are refused before an engine.io
 * session exists, every connection is counted, a ticket holds at most two sockets fleet-wide (with leases
 * that heal), resumes are limited per address, and a socket whose ticket is over is hung up. Each test asserts
 * the exact refusal and that nothing changed (no ticket issued, no WeChat call, the held ticket as it was).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Socket as EngineConnection } from 'engine.io-client';
import { io, type Socket } from 'socket.io-client';
import { newSecret, newTicketId } from '../../libs/ticket/index.js';
import { HANG_UP_AFTER_MS } from '../../apps/gateway/login-namespace.js';
import { LEASE_TTL_MS } from '../../apps/gateway/ticket-holders.js';
import { ConnectError, LoginBrowser } from '../support/login-browser.js';
import { ioTurns, startGateway, type GatewayHarness } from '../support/gateway-harness.js';

let harness: GatewayHarness | undefined;
const raw: Socket[] = [];
afterEach(async () => {
  for (const socket of raw.splice(0)) socket.close();
  await harness?.close();
  harness = undefined;
});
const start = async (env: Record<string, string> = {}): Promise<GatewayHarness> => {
  harness = await startGateway(env);
  return harness;
};

/** Open connections the gateway counts (`qrgate_socket_connections_open`). */
const openConnections = async (h: GatewayHarness): Promise<number> => (await h.metrics.socketConnectionsOpen.get()).values[0]?.value ?? 0;

/** A raw Socket.IO client on `nsp`; resolves with its connect_error and whether its connection then closed. */
async function refusedOn(h: GatewayHarness, nsp: string): Promise<{ code: unknown; message: string; closed: boolean }> {
  const socket = io(`${h.url}${nsp}`, { transports: ['websocket'], reconnection: false, forceNew: true, useNativeTimers: true } as never);
  raw.push(socket);
  const err = await new Promise<Error & { data?: { code?: unknown } }>((resolve, reject) => {
    socket.once('connect_error', resolve);
    socket.once('connect', () => reject(new Error(`${nsp} accepted a socket`)));
  });
  // The gateway closes the connection itself: the manager's engine hears the close without our asking.
  const closed = await new Promise<boolean>((resolve) => {
    const engine = socket.io.engine;
    if (engine === undefined || engine.readyState === 'closed') return resolve(true);
    engine.once('close', () => resolve(true));
    setTimeout(() => resolve(false), 3_000);
  });
  return { code: err.data?.code, message: err.message, closed };
}

/** A bare engine.io polling handshake: the first request of a session, as allowRequest sees it. */
async function handshake(h: GatewayHarness, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const res = await fetch(`${h.url}/socket.io/?EIO=4&transport=polling`, { headers });
  return { status: res.status, body: await res.text() };
}

describe('namespaces', () => {
  it.each(['/', '/admin', '/login2', '/session2'])('refuses %s with NAMESPACE_NOT_FOUND and closes the connection', async (nsp) => {
    const h = await start();
    const refused = await refusedOn(h, nsp);
    expect(refused).toEqual({
      code: 'NAMESPACE_NOT_FOUND',
      message: 'unknown namespace: this gateway serves only /login and /session',
      closed: true,
    });
    // Nothing changed: no ticket, no WeChat call, no socket, no connection left open.
    expect(h.wechat.calls).toHaveLength(0);
    expect(h.gateway.socketCount).toBe(0);
    await h.advance(100);
    expect(await openConnections(h)).toBe(0);
  });

  it('counts every open connection, whatever namespace it is in', async () => {
    const h = await start();
    const browser = await h.open();
    const idle = await handshake(h, {});
    expect(idle.status).toBe(200);
    // The browser's connection and one that has joined no namespace yet.
    expect(await openConnections(h)).toBe(2);
    browser.close();
    await h.logged('socket disconnected');
    await h.advance(100);
    expect(await openConnections(h)).toBe(1);
  });
});

/** A bare engine.io connection (no Socket.IO client to close it for us), with every packet it received. */
async function bareConnection(h: GatewayHarness): Promise<{ conn: EngineConnection; packets: string[]; closed: Promise<void> }> {
  const conn = new EngineConnection(h.url, { path: '/socket.io', transports: ['websocket'], useNativeTimers: true } as never);
  const packets: string[] = [];
  conn.on('message', (data) => packets.push(String(data)));
  const closed = new Promise<void>((resolve) => conn.on('close', () => resolve()));
  await new Promise<void>((resolve) => conn.on('open', () => resolve()));
  return { conn, packets, closed };
}

describe('one CONNECT per connection', () => {
  it('closes the connection of a refused /login handshake itself', async () => {
    const h = await start();
    const { conn, packets, closed } = await bareConnection(h);
    conn.send(`0/login,${JSON.stringify({ ticket: newTicketId(), secret: newSecret() })}`);
    await closed;
    expect(packets).toEqual(['4/login,{"message":"unknown or expired ticket","data":{"code":"TICKET_NOT_FOUND"}}']);
    await h.advance(100);
    expect(await openConnections(h)).toBe(0);
  });

  it('refuses a second CONNECT on one connection with INVALID_PAYLOAD, issuing nothing for it', async () => {
    const h = await start();
    const { conn, packets, closed } = await bareConnection(h);
    conn.send('0/login,');
    await h.wechat.calledTimes(1);
    await h.logged('socket connected');
    conn.send('0/login,');
    await closed;
    expect(packets.at(-1)).toBe('4/login,{"message":"invalid payload","data":{"code":"INVALID_PAYLOAD"}}');
    expect(h.wechat.calls).toHaveLength(1);
    await h.advance(100);
    expect(h.gateway.socketCount).toBe(0);
    expect(await openConnections(h)).toBe(0);
  });
});

describe('before a session exists', () => {
  it('refuses a foreign Origin in allowRequest, naming ORIGIN_NOT_ALLOWED, and makes no session', async () => {
    const h = await start();
    const refused = await handshake(h, { origin: 'https://evil.example' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ code: 4, message: 'ORIGIN_NOT_ALLOWED: origin not allowed' });
    expect(await openConnections(h)).toBe(0);
    // The same handshake from the gateway's own origin is a session.
    expect((await handshake(h, { origin: new URL(h.url).origin })).status).toBe(200);
    expect(await openConnections(h)).toBe(1);
    expect(h.wechat.calls).toHaveLength(0);
  });

  it('refuses GATEWAY_BUSY while MAX_HANDSHAKES_IN_FLIGHT joins are in progress, and takes new connections once they joined or left', async () => {
    const h = await start({ MAX_HANDSHAKES_IN_FLIGHT: '2' });
    const busy = { code: 4, message: 'GATEWAY_BUSY: this gateway is busy with other connections; retry shortly' };
    // Connections that have sent nothing hold no place: a client cannot fill the cap with idle ones.
    const idle = [await bareConnection(h), await bareConnection(h), await bareConnection(h)];
    expect((await handshake(h, {})).status).toBe(200);
    // Two joins under way (WeChat is slow to make their codes): the next connection is refused before a session exists.
    h.wechat.hold();
    const first = await bareConnection(h);
    const second = await bareConnection(h);
    first.conn.send('0/login,');
    second.conn.send('0/login,');
    await h.wechat.calledTimes(2);
    const refused = await handshake(h, {});
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual(busy);
    expect(await openConnections(h)).toBe(6);
    expect((await h.metrics.socketConnectionsBusy.get()).values[0]?.value).toBe(1);
    // One leaves half-way: its place is free again, and the next join takes it.
    second.conn.close();
    await second.closed;
    await h.advance(100);
    expect((await handshake(h, {})).status).toBe(200);
    idle[0]!.conn.send('0/login,');
    await h.wechat.calledTimes(3);
    expect(JSON.parse((await handshake(h, {})).body)).toEqual(busy);
    // WeChat answers: both joins finish, and new connections are taken again.
    h.wechat.release();
    const joined = (c: { packets: string[] }): boolean => c.packets.some((p) => p.startsWith('2/login,["ticket"'));
    while (!joined(first) || !joined(idle[0]!)) await new Promise((resolve) => setImmediate(resolve));
    expect((await handshake(h, {})).status).toBe(200);
    for (const c of idle) c.conn.close();
  });

  it('caps open connections per address (an IPv6 client by its /64) at MAX_CONNECTIONS_PER_IP', async () => {
    const h = await start({ MAX_CONNECTIONS_PER_IP: '3', TRUST_PROXY: 'loopback' });
    for (const ip of ['2001:db8:1:2::a', '2001:db8:1:2::b', '2001:db8:1:2:ffff:ffff:ffff:ffff']) {
      expect((await handshake(h, { 'x-forwarded-for': ip })).status).toBe(200);
    }
    const refused = await handshake(h, { 'x-forwarded-for': '2001:db8:1:2::c' });
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body)).toEqual({ code: 4, message: 'RATE_LIMITED: too many open connections from this address' });
    expect(await openConnections(h)).toBe(3);
    // Another /64 and an IPv4 address have their own allowance.
    expect((await handshake(h, { 'x-forwarded-for': '2001:db8:1:3::a' })).status).toBe(200);
    expect((await handshake(h, { 'x-forwarded-for': '192.0.2.7' })).status).toBe(200);
    expect(await openConnections(h)).toBe(5);
  });
});

describe('a ticket and its sockets', () => {
  it('holds at most two sockets: a third resume is refused with TICKET_IN_USE and changes nothing', async () => {
    const h = await start();
    const first = await h.open();
    const resume = { ticket: first.ticket.ticket, secret: first.ticket.secret };
    const second = await h.open({ resume });
    const third = await h.open({ resume }).catch((e: unknown) => e);
    expect(third).toBeInstanceOf(ConnectError);
    expect((third as ConnectError).code).toBe('TICKET_IN_USE');
    expect((await h.engine.tickets.get(resume.ticket))?.version).toBe(1);
    expect(h.gateway.socketCount).toBe(2);
    expect(h.wechat.calls).toHaveLength(1);
    // A place given back is free again.
    second.close();
    await h.logged('socket disconnected');
    await h.advance(100);
    const again = await h.open({ resume });
    expect(again.ticket.ticket).toBe(resume.ticket);
  });

  it('counts sockets on other gateways through the engine, and their places lapse when that gateway dies', async () => {
    const h = await start();
    const browser = await h.open();
    const { ticket, secret } = browser.ticket;
    browser.close();
    await h.logged('socket disconnected');
    await h.advance(100);
    // Two sockets on a gateway that then died: their leases are never renewed.
    for (const holder of ['dead-gateway:1', 'dead-gateway:2']) {
      expect(await h.engine.leases.acquire(`ticket-sockets:${ticket}`, holder, 2, LEASE_TTL_MS)).toBe(true);
    }
    const refused = await h.open({ resume: { ticket, secret } }).catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe('TICKET_IN_USE');
    await h.advance(LEASE_TTL_MS + 1_000);
    const healed = await h.open({ resume: { ticket, secret } });
    expect(healed.ticket.ticket).toBe(ticket);
  });

  it('gives the place back, and never renews it, when the browser left while its place was being taken', async () => {
    const h = await start({ TICKET_TTL_SECONDS: '600' });
    // The lease write is slow to answer (a Redis round trip, stretched): the browser leaves meanwhile.
    const leases = h.engine.leases;
    const acquire = leases.acquire.bind(leases);
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    leases.acquire = async (...args) => {
      await gate;
      return acquire(...args);
    };
    const socket = io(`${h.url}/login`, { transports: ['websocket'], forceNew: true, reconnection: false });
    try {
      await h.wechat.calledTimes(1);
      socket.close();
      while ((await h.metrics.socketConnectionsOpen.get()).values[0]?.value !== 0) await ioTurns(1);
    } finally {
      socket.close();
    }
    const ticket = h.wechat.calls[0]?.sceneStr ?? '';
    open();
    while ((await h.engine.tickets.get(ticket)) === null) await ioTurns(1);
    await ioTurns();
    // Renewals every 20 s would keep a place that was never given back.
    await h.advance(3 * LEASE_TTL_MS);
    expect(await acquire(`ticket-sockets:${ticket}`, 'probe', 1, LEASE_TTL_MS)).toBe(true);
  });

  it("renews its own sockets' places, so a long wait does not free them for a crowd", async () => {
    const h = await start({ TICKET_TTL_SECONDS: '600' });
    const first = await h.open();
    const resume = { ticket: first.ticket.ticket, secret: first.ticket.secret };
    await h.open({ resume });
    await h.advance(3 * LEASE_TTL_MS);
    const third = await h.open({ resume }).catch((e: unknown) => e);
    expect((third as ConnectError).code).toBe('TICKET_IN_USE');
  });

  it('limits resumes per address (RATE_LIMIT_RESUMES_PER_MINUTE), wrong guesses included', async () => {
    const h = await start({ RATE_LIMIT_RESUMES_PER_MINUTE: '2' });
    const browser = await h.open();
    const resume = { ticket: browser.ticket.ticket, secret: browser.ticket.secret };
    const guess = await h.open({ resume: { ticket: resume.ticket, secret: 'A'.repeat(43) } }).catch((e: unknown) => e);
    expect((guess as ConnectError).code).toBe('TICKET_SECRET_MISMATCH');
    (await h.open({ resume })).close();
    const refused = await h.open({ resume }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe('RATE_LIMITED');
    expect((refused as ConnectError).message).toBe('too many reconnections from this address; retry in a minute');
    expect((await h.engine.tickets.get(resume.ticket))?.status).toBe('pending');
    expect(h.wechat.calls).toHaveLength(1);
  });
});

describe('a socket whose ticket is over', () => {
  it('is disconnected shortly after its ticket expired', async () => {
    const h = await start({ TICKET_TTL_SECONDS: '60' });
    const browser = await h.open();
    await h.advance(61_000);
    await browser.waitFor('status', (s) => s.status === 'expired');
    expect(browser.socket.connected).toBe(true);
    const disconnected = new Promise<string>((resolve) => browser.socket.once('disconnect', resolve));
    await h.advance(HANG_UP_AFTER_MS + 1_000);
    expect(await disconnected).toBe('io server disconnect');
    await h.advance(100);
    expect(h.gateway.socketCount).toBe(0);
    expect(await openConnections(h)).toBe(0);
  });

  it('stays when the browser refreshes in time, and hears its new ticket', async () => {
    const h = await start({ TICKET_TTL_SECONDS: '60' });
    const browser = await h.open();
    await h.advance(61_000);
    await browser.waitFor('status', (s) => s.status === 'expired');
    const ack = await browser.refresh();
    expect('ticket' in ack).toBe(true);
    await h.advance(HANG_UP_AFTER_MS + 1_000);
    expect(browser.socket.connected).toBe(true);
    expect(h.gateway.socketCount).toBe(1);
  });
});
