/**
 * A load-generator process of browsers: Socket.IO clients on `/login` that either churn (connect, wait for
 * the first `ticket`, disconnect: the new-logins rate) or connect and stay, waiting for their `login` (the
 * waiting browsers). The same worker drives qrgate and the bare Socket.IO floor, which both answer a connect
 * with `ticket { ticket }` and deliver `login { ticket }`.
 */
import { io, type Socket } from 'socket.io-client';
import { serveWorker, wallNow } from './worker-protocol.js';

/** Answer of `churn`. */
export interface ChurnResult {
  completed: number;
  failed: number;
  /** Connect → first `ticket`, per completed connection, ms. */
  latenciesMs: number[];
  elapsedMs: number;
}

/** Answer of `hold`. */
export interface HoldResult {
  /** Ticket ids of the sockets now waiting, in the order they connected. */
  tickets: string[];
  failed: number;
  latenciesMs: number[];
}

/** Answer of `logins`. */
export interface LoginsResult {
  /** `[ticket, wall-clock ms the login arrived]` per ticket asked for that got one. */
  arrivals: Array<[string, number]>;
  /** Logins beyond the first, over those tickets. */
  duplicates: number;
}

interface Held {
  socket: Socket;
  loginAt: number | undefined;
  logins: number;
}

const held = new Map<string, Held>();

/** Connect once; resolves with the socket and its first ticket (the socket stays open), rejects on error. */
function connect(url: string, timeoutMs: number): Promise<{ socket: Socket; ticket: string; latencyMs: number }> {
  const started = wallNow();
  const socket = io(`${url}/login`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: timeoutMs });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('no ticket in time')), timeoutMs);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.close();
      reject(error);
    };
    socket.once('connect_error', fail);
    socket.once('ticket', (payload: { ticket?: unknown }) => {
      clearTimeout(timer);
      socket.off('connect_error', fail);
      if (typeof payload.ticket !== 'string') return fail(new Error('ticket event without a ticket id'));
      resolve({ socket, ticket: payload.ticket, latencyMs: wallNow() - started });
    });
  });
}

async function churn(args: { url: string; durationMs: number; concurrency: number }): Promise<ChurnResult> {
  const latenciesMs: number[] = [];
  let failed = 0;
  const started = wallNow();
  const end = started + args.durationMs;
  const loop = async (): Promise<void> => {
    while (wallNow() < end) {
      try {
        const { socket, latencyMs } = await connect(args.url, 10_000);
        latenciesMs.push(latencyMs);
        socket.close();
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, loop));
  return { completed: latenciesMs.length, failed, latenciesMs, elapsedMs: wallNow() - started };
}

/** Open `count` sockets round robin over `urls` (`concurrency` connecting at once) and keep them. */
async function hold(args: { urls: string[]; count: number; concurrency: number }): Promise<HoldResult> {
  const tickets: string[] = [];
  const latenciesMs: number[] = [];
  let failed = 0;
  let next = 0;
  const loop = async (): Promise<void> => {
    while (next < args.count) {
      const url = args.urls[next % args.urls.length]!;
      next += 1;
      try {
        const { socket, ticket, latencyMs } = await connect(url, 30_000);
        const entry: Held = { socket, loginAt: undefined, logins: 0 };
        socket.on('login', () => {
          entry.logins += 1;
          entry.loginAt ??= wallNow();
        });
        held.set(ticket, entry);
        tickets.push(ticket);
        latenciesMs.push(latencyMs);
      } catch {
        failed += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: args.concurrency }, loop));
  return { tickets, failed, latenciesMs };
}

/** Wait (up to `timeoutMs`) until every ticket in `tickets` got its login; report what arrived. */
async function logins(args: { tickets: string[]; timeoutMs: number }): Promise<LoginsResult> {
  const deadline = wallNow() + args.timeoutMs;
  const done = (): boolean => args.tickets.every((ticket) => held.get(ticket)?.loginAt !== undefined);
  while (!done() && wallNow() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  // A duplicate would arrive within moments of the first delivery.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const arrivals: Array<[string, number]> = [];
  let duplicates = 0;
  for (const ticket of args.tickets) {
    const entry = held.get(ticket);
    if (entry?.loginAt === undefined) continue;
    arrivals.push([ticket, entry.loginAt]);
    duplicates += entry.logins - 1;
  }
  return { arrivals, duplicates };
}

/** Close the sockets of `tickets` (scanned ones, or waiting ones no longer wanted). */
async function release(args: { tickets: string[] }): Promise<number> {
  let closed = 0;
  for (const ticket of args.tickets) {
    const entry = held.get(ticket);
    if (entry === undefined) continue;
    entry.socket.close();
    held.delete(ticket);
    closed += 1;
  }
  return closed;
}

async function closeAll(): Promise<number> {
  const count = held.size;
  for (const entry of held.values()) entry.socket.close();
  held.clear();
  return count;
}

serveWorker({ churn, hold, logins, release, closeAll }, async () => {
  await closeAll();
});
