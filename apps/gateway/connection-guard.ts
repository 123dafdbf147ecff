/**
 * The door below Socket.IO: every engine.io connection, whatever namespace it asks for. Socket.IO's main
 * namespace `/` accepts any socket, and a connection that names no namespace is held until its connect
 * timeout, so without this a client could keep thousands of connections open that no namespace middleware
 * ever sees. Here:
 * - the Origin is checked before an engine.io session exists (`allowRequest`), and so is the number of open
 *   connections from the client's address (IPv6: its /64) on this gateway, and so is the number of joins in
 *   progress (a CONNECT read, its namespace's checks not yet done): past `MAX_HANDSHAKES_IN_FLIGHT` a new
 *   connection is refused with `GATEWAY_BUSY`. Only joins count, not connections that have sent nothing yet:
 *   a client holding idle connections open cannot fill the cap and lock everyone else out. A gateway taking a reconnection storm (its neighbours died) then finishes the
 *   joins it started, and stays quick enough to answer its health checks, instead of starting more than it can
 *   finish and timing every one of them out; the browsers refused retry with backoff, on this or another gateway;
 * - a connection asks for exactly one namespace, `/login` or `/session`, once: `/`, any other namespace, or a second
 *   CONNECT gets a `connect_error` with a catalogue code, and the connection is closed;
 * - every open connection is counted (`qrgate_socket_connections_open`).
 * The CONNECT packet is read from engine.io's `data` event ahead of Socket.IO's own listener, so Socket.IO
 * never makes a socket for a namespace we refuse.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'socket.io';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { refusalMessage, type ErrorCode } from '../../libs/protocol/index.js';
import { clientGroup } from './client-group.js';
import { GatewayError } from './gateway-error.js';
import { clientIp, originAllowed, type GatewaySettings } from './gateway-settings.js';

export interface ConnectionGuardDeps {
  settings: GatewaySettings;
  metrics: Metrics;
  logger: Logger;
  /** The namespaces a connection may join (one of them, once). */
  namespaces: readonly string[];
}

export interface ConnectionGuard {
  /** engine.io's `allowRequest`: runs for every new session's first request, before the session exists. */
  allowRequest(req: IncomingMessage, callback: (err: string | null | undefined, success: boolean) => void): void;
  /** Count and watch the connections of `io` (call once, right after the Server is created). */
  attach(io: Server): void;
  /** Connections open now. */
  readonly open: number;
}

/** The part of an engine.io socket the guard uses. */
interface EngineConnection {
  readonly request: IncomingMessage;
  readonly readyState: string;
  write(data: string): unknown;
  close(): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'data', listener: (data: unknown) => void): unknown;
}

/** Socket.IO protocol 5 packet types (socket.io-parser's `PacketType`). */
const CONNECT = '0';
const CONNECT_ERROR = '4';

export function createConnectionGuard(deps: ConnectionGuardDeps): ConnectionGuard {
  const { settings, metrics, logger } = deps;
  /** Open connections per client group. */
  const perClient = new Map<string, number>();
  /** For each connection whose join is in progress: what ends its count (called once: joined, or closed). */
  const joinedOrGone = new Map<EngineConnection, () => void>();
  let open = 0;
  /** Connections whose CONNECT is being checked by its namespace. */
  let joining = 0;

  const groupOf = (req: IncomingMessage): string =>
    clientGroup(clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], settings.trustProxy));

  /** Refuse a connection's CONNECT for `nsp`: the code the browser reads, then the connection is closed. */
  const refuse = (conn: EngineConnection, nsp: string, code: ErrorCode): void => {
    const error = GatewayError.of(code).toConnectError();
    const prefix = nsp === '/' ? '' : `${nsp},`;
    logger.info({ code, nsp: nsp.slice(0, 100) }, 'connection refused');
    conn.write(`${CONNECT_ERROR}${prefix}${JSON.stringify({ message: error.message, data: error.data })}`);
    // Closing waits for the refusal to be flushed (a polling client collects it with its next GET).
    conn.close();
  };

  return {
    get open() {
      return open;
    },
    allowRequest(req, callback) {
      const origin = req.headers.origin;
      if (!originAllowed(origin, req.headers.host, settings)) {
        logger.info({ origin: String(origin).slice(0, 200) }, 'connection refused: origin');
        // Let that page read this one static refusal (a polling request's 403), so the widget can say why;
        // no session exists, and nothing else is answered to it.
        const res = (req as IncomingMessage & { res?: ServerResponse }).res;
        if (res !== undefined && origin !== undefined && !res.headersSent) {
          res.setHeader('Access-Control-Allow-Origin', origin);
          res.setHeader('Access-Control-Allow-Credentials', 'true');
          res.setHeader('Vary', 'Origin');
        }
        return callback(refusalMessage('ORIGIN_NOT_ALLOWED', GatewayError.of('ORIGIN_NOT_ALLOWED').message), false);
      }
      if ((perClient.get(groupOf(req)) ?? 0) >= settings.maxConnectionsPerIp) {
        logger.info('connection refused: too many from this address');
        const words = GatewayError.of('RATE_LIMITED', { detail: 'connections' }).message;
        return callback(refusalMessage('RATE_LIMITED', words), false);
      }
      if (joining >= settings.maxHandshakesInFlight) {
        metrics.socketConnectionsBusy.inc();
        logger.debug({ joining }, 'connection refused: too many joins in progress');
        return callback(refusalMessage('GATEWAY_BUSY', GatewayError.of('GATEWAY_BUSY').message), false);
      }
      callback(null, true);
    },
    attach(io) {
      // Ahead of Socket.IO's own `connection` listener, so this `data` listener runs before its parser.
      io.engine.prependListener('connection', (conn: EngineConnection) => {
        const group = groupOf(conn.request);
        const count = (perClient.get(group) ?? 0) + 1;
        perClient.set(group, count);
        open += 1;
        metrics.socketConnectionsOpen.inc();
        let connected = false;
        conn.on('close', () => {
          joinedOrGone.get(conn)?.();
          open -= 1;
          metrics.socketConnectionsOpen.dec();
          const left = (perClient.get(group) ?? 1) - 1;
          if (left > 0) perClient.set(group, left);
          else perClient.delete(group);
        });
        conn.on('data', (data) => {
          if (typeof data !== 'string' || !data.startsWith(CONNECT) || conn.readyState !== 'open') return;
          const nsp = namespaceOf(data);
          if (!deps.namespaces.includes(nsp)) return refuse(conn, nsp, 'NAMESPACE_NOT_FOUND');
          // One socket per connection: a second CONNECT would be a second socket behind one counted connection.
          if (connected) return refuse(conn, nsp, 'INVALID_PAYLOAD');
          connected = true;
          joining += 1;
          joinedOrGone.set(conn, () => {
            joinedOrGone.delete(conn);
            joining -= 1;
          });
        });
        // Requests racing through allowRequest together may overshoot the cap: the extra ones go at once.
        if (count > settings.maxConnectionsPerIp) conn.close();
      });
      for (const name of deps.namespaces) {
        io.of(name).on('connection', (socket) => joinedOrGone.get(socket.conn as unknown as EngineConnection)?.());
      }
    },
  };
}

/** The namespace of an encoded Socket.IO packet, read as socket.io-parser's decoder reads it. */
function namespaceOf(packet: string): string {
  if (packet.charAt(1) !== '/') return '/';
  const comma = packet.indexOf(',', 1);
  return comma === -1 ? packet.slice(1) : packet.slice(1, comma);
}
