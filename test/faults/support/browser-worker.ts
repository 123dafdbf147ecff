/**
 * A worker process full of browsers (forked by browser-fleet.ts, run from dist/ as
 * `dist/test/faults/support/browser-worker.js`). Each browser behaves like the login page: it opens a
 * Socket.IO connection on `/login`, resumes its ticket on every reconnect, asks for a new QR code when told
 * `expired` or when its ticket is gone, retries refusals with a backoff, and on `login` redeems the code at
 * POST /api/session. Everything it sees goes to the parent as one message per event, so the parent can count.
 * Spreading browsers over processes keeps each under its open-file limit at full size.
 */
import { io, type Socket } from 'socket.io-client';
import { EXCHANGE_ATTEMPT_TIMEOUT_MS, exchangeRetryable, exchangeRetryDelayMs } from '../../../libs/client/exchange-retry.js';
import { RECONNECT_BACKOFF } from '../../../libs/client/reconnect.js';
import type { ClientToServerEvents, ServerToClientEvents, TicketPayload } from '../../../libs/protocol/index.js';

/** Parent → worker. */
export type WorkerCommand =
  | { op: 'open'; id: number; url: string; transport: 'websocket' | 'polling' }
  | { op: 'drop'; id: number }
  | { op: 'closeAll' };

/** Worker → parent. */
export type WorkerEvent = { id: number; at: number } & (
  | { ev: 'ticket'; ticket: string; secret: string }
  | { ev: 'status'; ticket: string; status: string }
  | { ev: 'login'; ticket: string; code: string }
  | { ev: 'exchange'; ticket: string; status: number; error?: string }
  | { ev: 'refused'; code: string }
  | { ev: 'connect_failed'; error: string }
  | { ev: 'connected' }
  | { ev: 'disconnected'; reason: string }
);

type LoginSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

const sockets = new Map<number, LoginSocket>();
const send = (event: WorkerEvent): void => {
  process.send?.(event);
};

function open(id: number, url: string, transport: 'websocket' | 'polling'): void {
  let current: TicketPayload | undefined;
  /** The last version of `current` received, as the login page keeps it (libs/client/qr-login-state.ts). */
  let version: number | undefined;
  /** The id of the last socket that held `current`, named on resume (`replaces`) as the login page does. */
  let holder: string | undefined;
  let refusals = 0;
  /** The code was exchanged for a session: the page has nothing left to do on this socket. */
  let signedIn = false;
  const socket: LoginSocket = io(`${url}/login`, {
    transports: transport === 'websocket' ? ['websocket'] : ['polling', 'websocket'],
    forceNew: true,
    reconnection: true,
    // The login page's backoff: at full size a faster one makes a reconnection storm no real page would.
    ...RECONNECT_BACKOFF,
    // Keeps HAProxy's sticky cookie, as a browser does, so the polling handshake and its upgrade stay together.
    withCredentials: transport === 'polling',
    auth: (cb) =>
      cb(
        current === undefined
          ? {}
          : {
              ticket: current.ticket,
              secret: current.secret,
              ...(version !== undefined ? { version } : {}),
              ...(holder !== undefined ? { replaces: holder } : {}),
            },
      ),
  });
  sockets.set(id, socket);
  const now = Date.now;
  const heard = (ticket: string, v: number | undefined): void => {
    if (ticket === current?.ticket && v !== undefined && v > (version ?? 0)) version = v;
  };
  const adopt = (payload: TicketPayload): void => {
    if (payload.ticket !== current?.ticket) version = undefined;
    current = payload;
    holder = socket.id;
    refusals = 0;
    send({ id, at: now(), ev: 'ticket', ticket: payload.ticket, secret: payload.secret });
  };
  const refresh = (attempt = 0): void => {
    socket.emit('refresh', (ack) => {
      if ('error' in ack) {
        send({ id, at: now(), ev: 'refused', code: ack.error.code });
        if (attempt < 5) setTimeout(() => refresh(attempt + 1), 300 * (attempt + 1));
        return;
      }
      adopt(ack);
    });
  };
  socket.on('ticket', adopt);
  socket.on('status', (payload) => {
    send({ id, at: now(), ev: 'status', ticket: payload.ticket, status: payload.status });
    // Like the page: `confirmed` counts as received only once its `login` arrived.
    if (payload.status !== 'confirmed') heard(payload.ticket, payload.version);
    // The login page's auto-refresh: a dead QR code is replaced at once.
    if (payload.status === 'expired' && payload.ticket === current?.ticket) refresh();
  });
  socket.on('login', (payload) => {
    send({ id, at: now(), ev: 'login', ticket: payload.ticket, code: payload.code });
    heard(payload.ticket, payload.version);
    const secret = current?.ticket === payload.ticket ? current.secret : '';
    void redeem(url, payload.code, secret).then((result) => {
      send({ id, at: now(), ev: 'exchange', ticket: payload.ticket, ...result });
      // Signed in: like the page (libs/client/qr-login-state.ts, `signed-in`), free the gateway's socket. A
      // browser that stayed would be hung up and come back every 10 s, a load no real page makes.
      if (result.status === 200) {
        signedIn = true;
        socket.disconnect();
      }
    });
  });
  socket.on('connect', () => {
    // The handshake resumed `current` (if any): this socket holds it, even if it drops before `ticket`.
    if (current !== undefined) holder = socket.id;
    send({ id, at: now(), ev: 'connected' });
  });
  socket.on('disconnect', (reason) => {
    send({ id, at: now(), ev: 'disconnected', reason });
    // The server closed the socket on purpose (not a drain): a page would connect again.
    if (reason === 'io server disconnect' && !signedIn) setTimeout(() => socket.connect(), 200);
  });
  socket.on('connect_error', (err: Error & { data?: { code?: string } }) => {
    const code = err.data?.code;
    // A transport failure: Socket.IO's manager reconnects by itself. Recorded, so a report can say why a browser
    // stayed away (a refusal before a session exists, GATEWAY_BUSY included, reaches WebSocket as a failure).
    if (code === undefined) {
      send({ id, at: now(), ev: 'connect_failed', error: err.message });
      return;
    }
    send({ id, at: now(), ev: 'refused', code });
    // The ticket is gone (or not ours any more): ask for a new one, as the page does.
    if (code === 'TICKET_NOT_FOUND' || code === 'TICKET_SECRET_MISMATCH') current = undefined;
    // A refusal by the server is final for Socket.IO; the page tries again with a backoff.
    refusals += 1;
    setTimeout(() => socket.connect(), Math.min(2_000, 200 * refusals));
  });
}

/**
 * POST /api/session like the login page (libs/client/exchange-retry.ts): a request no gateway finished (no
 * answer, or the load balancer's 502/503/504) is sent again with a growing pause; any other answer is final.
 * 0: no answer came at all.
 */
async function redeem(url: string, code: string, secret: string): Promise<{ status: number; error?: string }> {
  for (let attempt = 1; ; attempt++) {
    let outcome: { status: number; error?: string };
    try {
      const res = await fetch(`${url}/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code, secret }),
        signal: AbortSignal.timeout(EXCHANGE_ATTEMPT_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      outcome = { status: res.status };
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      outcome = { status: 0, error: `${String(err)}${cause}` };
    }
    const delay = exchangeRetryable(outcome.status === 0 ? null : outcome.status) ? exchangeRetryDelayMs(attempt) : null;
    if (delay === null) return outcome;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

process.on('message', (command: WorkerCommand) => {
  if (command.op === 'open') open(command.id, command.url, command.transport);
  else if (command.op === 'drop') sockets.get(command.id)?.io.engine?.close();
  else {
    for (const socket of sockets.values()) socket.close();
    sockets.clear();
    process.disconnect?.();
    setTimeout(() => process.exit(0), 100).unref();
  }
});

// The parent is gone (finished or killed): nobody is counting any more, so no browser may linger.
process.on('disconnect', () => process.exit(0));
