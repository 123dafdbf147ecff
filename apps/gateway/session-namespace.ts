/**
 * The `/session` namespace (issue 12): a signed-in page connects with `auth: { token }` or its session cookie
 * and is told about its user's sessions, from whichever gateway ended or began one:
 * - `session_ended { sid, reason }`, then the socket is disconnected (signed out, revoked, or expired);
 * - `session_started { sid, browser, ip, at }` on the user's other pages when they sign in elsewhere.
 * Each socket joins two rooms, `sid:<sid>` and `user:<sub>`. Across gateways the namespace runs on
 * `@socket.io/redis-adapter`'s sharded adapter (`session-adapter.ts`); on the memory engine, on Socket.IO's
 * in-memory adapter.
 *
 * The push is a courtesy: the store decides. A socket is admitted only for a live session, and read once more
 * after it joined its rooms, so a session ended between the first read and the join (whose push this gateway
 * could not deliver yet) is still ended on the page; every HTTP check refuses an ended token anyway.
 */
import type { Namespace, Socket } from 'socket.io';
import type { SessionBook, SessionRecord } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import {
  SESSION_COOKIE,
  sessionAuthSchema,
  type SessionClientToServerEvents,
  type SessionEndReason,
  type SessionServerToClientEvents,
} from '../../libs/protocol/index.js';
import { GatewayError } from './gateway-error.js';
import { originAllowed, type GatewaySettings } from './gateway-settings.js';
import { liveSession } from './session-routes.js';
import type { SessionSigner } from './session-signer.js';

interface SessionSocketData {
  sid: string;
  sub: string;
}

export type SessionNamespace = Namespace<
  SessionClientToServerEvents,
  SessionServerToClientEvents,
  Record<string, never>,
  SessionSocketData
>;
type SessionSocket = Socket<SessionClientToServerEvents, SessionServerToClientEvents, Record<string, never>, SessionSocketData>;

export interface SessionNamespaceDeps {
  signer: SessionSigner;
  sessions: SessionBook;
  settings: GatewaySettings;
  logger: Logger;
  isDraining(): boolean;
  now?: () => number;
}

/** What the rest of the gateway tells the pages. */
export interface SessionAnnouncer {
  /** Tell each session's pages it ended, and disconnect them (on every gateway). */
  ended(records: readonly SessionRecord[]): void;
  /** Tell the user's other pages a session began. */
  started(record: SessionRecord): void;
}

export const sidRoom = (sid: string): string => `sid:${sid}`;
export const userRoom = (sub: string): string => `user:${sub}`;

/** Longest timer Node keeps (about 24.8 days); a later expiry is re-armed when that one fires. */
const MAX_TIMER_MS = 2_147_483_647;

/** The session cookie in a `Cookie` header, if there is one. */
function cookieToken(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

export function setUpSessionNamespace(nsp: SessionNamespace, deps: SessionNamespaceDeps): SessionAnnouncer {
  const { signer, sessions, settings, logger } = deps;
  const now = deps.now ?? Date.now;

  const end = (sid: string, reason: SessionEndReason): void => {
    // Same channel, same order on every gateway: the event is written to the socket before it is closed.
    nsp.to(sidRoom(sid)).emit('session_ended', { sid, reason });
    nsp.in(sidRoom(sid)).disconnectSockets(true);
  };

  /** This socket only: its session ended (found by this gateway: expiry, or the read after the join). */
  const endHere = (socket: SessionSocket, reason: SessionEndReason): void => {
    socket.emit('session_ended', { sid: socket.data.sid, reason });
    socket.disconnect(true);
  };

  nsp.use((socket, next) => {
    const refuse = (err: unknown): void => {
      if (err instanceof GatewayError) {
        logger.info({ code: err.code }, 'session socket refused');
        next(err.toConnectError());
      } else {
        logger.error({ err }, 'session socket handshake failed');
        next(GatewayError.of('INTERNAL').toConnectError());
      }
      // One CONNECT per connection (connection-guard.ts): nothing is left to do on it.
      setImmediate(() => socket.conn.close());
    };
    const run = async (): Promise<void> => {
      if (deps.isDraining()) throw GatewayError.of('SHUTTING_DOWN');
      const headers = socket.handshake.headers;
      if (!originAllowed(headers.origin, headers.host, settings)) throw GatewayError.of('ORIGIN_NOT_ALLOWED');
      const auth = sessionAuthSchema.safeParse(socket.handshake.auth ?? {});
      if (!auth.success) throw GatewayError.of('INVALID_PAYLOAD', { detail: 'session_auth' });
      const record = await liveSession(auth.data.token ?? cookieToken(headers.cookie), { signer, sessions, now });
      socket.data = { sid: record.sid, sub: record.sub };
      watchExpiry(socket, record.expiresAt);
    };
    run().then(() => next(), refuse);
  });

  const watchExpiry = (socket: SessionSocket, expiresAt: number): void => {
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      const left = expiresAt - now();
      if (left <= 0) endHere(socket, 'expired');
      else timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    arm();
    socket.once('disconnect', () => clearTimeout(timer));
  };

  nsp.on('connection', (socket) => {
    const { sid, sub } = socket.data;
    void socket.join([sidRoom(sid), userRoom(sub)]);
    // Closes the race between the admission's read and the join: an end written in between is seen now.
    sessions.get(sid).then(
      (record) => {
        if (socket.connected && (record === null || record.ended !== undefined)) endHere(socket, record?.ended?.reason ?? 'expired');
      },
      (err: unknown) => logger.warn({ err }, 'session re-check after join failed'),
    );
  });

  return {
    ended(records) {
      for (const record of records) end(record.sid, record.ended?.reason ?? 'revoked');
    },
    started(record) {
      nsp
        .to(userRoom(record.sub))
        .except(sidRoom(record.sid))
        .emit('session_started', { sid: record.sid, browser: `${record.browser} on ${record.os}`, ip: record.ip, at: record.createdAt });
    },
  };
}
