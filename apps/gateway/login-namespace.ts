/**
 * The `/login` namespace: every socket holds exactly one ticket. On connect it gets a new ticket (or resumes
 * one with `auth: { ticket, secret }`), then hears every change of that ticket, from whichever process made it.
 */
import type { Namespace, Socket } from 'socket.io';
import type { Engine, RateLimiter } from '../../libs/engine/index.js';
import type { LoginService } from '../../libs/login/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { handshakeAuthSchema, type ClientToServerEvents, type RefreshAck, type ServerToClientEvents } from '../../libs/protocol/index.js';
import { isOpen, newTicketId, secretMatches, ticketLogId, wireStatus, type BrowserContext, type Ticket } from '../../libs/ticket/index.js';
import { ticketPayload, type IssueRefusal, type TicketIssuer } from './ticket-issuer.js';
import type { TicketWatcher, TicketWatchers } from './ticket-watchers.js';
import { clientIp, originAllowed, requestSite, type GatewaySettings } from './gateway-settings.js';
import { GatewayError, ackError } from './gateway-error.js';
import type { QrBudget } from './qr-budget.js';
import type { TicketHolders } from './ticket-holders.js';

/**
 * What a socket keeps for the whole life of its QR code: its ticket's id and how often it refreshed. The
 * secret (and a ticket it just issued) only until the `ticket` event carries it; the browser context is read
 * from the handshake (which Socket.IO keeps anyway) when a refresh needs it. Never a ticket or its image
 * after that.
 */
interface SocketData {
  ticketId: string;
  secret: string | undefined;
  /**
   * The ticket this connection just issued, as stored, until the `ticket` event announces it; with the
   * bus's resync count from before it was stored (`TicketWatchers.resyncs`).
   */
  issued?: { ticket: Ticket; resyncs: number } | undefined;
  /** On resume: the last version of the ticket the browser says it received (handshake `auth.version`). */
  resumedVersion?: number;
  refreshes: number;
}

type LoginSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type LoginNamespace = Namespace<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface LoginNamespaceDeps {
  engine: Engine;
  /** The use cases; the namespace calls `expire()` when a ticket's TTL passes. */
  login: LoginService;
  issuer: TicketIssuer;
  watchers: TicketWatchers;
  settings: GatewaySettings;
  logger: Logger;
  metrics: Metrics;
  /** Resumes per client. */
  resumeLimiter: RateLimiter;
  /** The fleet's WeChat QR quota, with the new tickets per client: every new ticket spends one. */
  qrBudget: QrBudget;
  /** The fleet-wide places on each ticket (at most two sockets). */
  holders: TicketHolders;
  /** True once the gateway is draining: new sockets are refused. */
  isDraining(): boolean;
  now?: () => number;
}

export function setUpLoginNamespace(nsp: LoginNamespace, deps: LoginNamespaceDeps): void {
  const now = deps.now ?? Date.now;
  const { engine, issuer, settings, logger, metrics } = deps;

  nsp.use((socket, next) => {
    authenticate(socket).then(
      () => next(),
      (err: unknown) => {
        if (err instanceof GatewayError) {
          logger.info({ code: err.code }, 'socket refused');
          next(err.toConnectError());
        } else {
          logger.error({ err }, 'socket handshake failed');
          next(GatewayError.of('INTERNAL').toConnectError());
        }
        // A connection takes one CONNECT (connection-guard.ts), so a refused one has nothing left to do: close
        // it once Socket.IO has queued the refusal (on the next tick), instead of leaving it to the client.
        setImmediate(() => socket.conn.close());
      },
    );
  });

  async function authenticate(socket: LoginSocket): Promise<void> {
    if (deps.isDraining()) throw GatewayError.of('SHUTTING_DOWN');
    const headers = socket.handshake.headers;
    if (!originAllowed(headers.origin, headers.host, settings)) {
      throw GatewayError.of('ORIGIN_NOT_ALLOWED');
    }
    const browser = browserOf(socket, settings);
    const auth: unknown = socket.handshake.auth;
    const wantsResume = typeof auth === 'object' && auth !== null && Object.keys(auth).length > 0;
    if (wantsResume) {
      // Counted before anything is looked up: guessing and crowding cost the same.
      if (!(await deps.resumeLimiter.take(browser.ip)).ok) throw GatewayError.of('RATE_LIMITED', { detail: 'resumes' });
      const parsed = handshakeAuthSchema.safeParse(auth);
      if (!parsed.success) throw GatewayError.of('INVALID_PAYLOAD', { detail: 'auth' });
      const ticket = await engine.tickets.get(parsed.data.ticket);
      if (ticket === null) throw GatewayError.of('TICKET_NOT_FOUND');
      if (!secretMatches(ticket, parsed.data.secret)) throw GatewayError.of('TICKET_SECRET_MISMATCH');
      await holdTicket(socket, ticket.id, parsed.data.replaces);
      socket.data = { ticketId: ticket.id, secret: parsed.data.secret, refreshes: 0 };
      if (parsed.data.version !== undefined) socket.data.resumedVersion = parsed.data.version;
      return;
    }
    await consumeTicketQuota(browser.ip);
    const resyncs = deps.watchers.resyncs;
    // A ticket nobody has seen yet has its first place free: it is taken while WeChat makes the code, not after.
    // (Should the issue fail, the refusal closes the connection, and its close gives the place back.)
    const id = newTicketId();
    const [{ ticket, payload }] = await Promise.all([issueOrExplain(browser, id), holdTicket(socket, id)]);
    socket.data = { ticketId: ticket.id, secret: payload.secret, issued: { ticket, resyncs }, refreshes: 0 };
  }

  /**
   * Take one of the ticket's fleet-wide places for this socket (the place of `replaces`, the browser's previous
   * socket, if that one still has it), given back when its connection closes.
   */
  async function holdTicket(socket: LoginSocket, ticketId: string, replaces?: string): Promise<void> {
    const options = { lost: () => disconnectPlaceless(socket, ticketId, logger), ...(replaces !== undefined ? { replaces } : {}) };
    if (!(await deps.holders.hold(ticketId, socket.id, options))) throw GatewayError.of('TICKET_IN_USE');
    const release = (): void => {
      deps.holders.release(socket.data.ticketId ?? ticketId, socket.id).catch((err: unknown) => {
        logger.warn({ err }, 'ticket lease release failed');
      });
    };
    // The browser left while the ticket was being issued or its place taken: its `close` has been and gone,
    // so give the place back now (else this gateway would renew it for as long as it runs). Socket.IO then
    // drops the socket itself ("next called after client was closed").
    if (socket.conn.readyState === 'closed') {
      release();
      return;
    }
    // The connection, not the socket: a socket refused later (or never connected) has no `disconnect`.
    socket.conn.once('close', release);
  }

  async function consumeTicketQuota(ip: string): Promise<void> {
    const refusal = await deps.qrBudget.take(ip);
    if (refusal !== null) throw GatewayError.of('RATE_LIMITED', { detail: refusal });
  }

  async function issueOrExplain(browser: BrowserContext, id: string) {
    const issued = await issuer.issue(browser, id);
    if (!issued.ok) throw GatewayError.of(issueRefusalCode(issued.reason));
    return issued;
  }

  nsp.on('connection', (socket: LoginSocket) => {
    metrics.socketsConnected.inc();
    // Every connection passes here: the ticket's log id (a SHA-256) is computed only for a line that is written.
    if (logger.isLevelEnabled('info')) {
      logger.info({ ticket: ticketLogId(socket.data.ticketId), transport: socket.conn.transport.name }, 'socket connected');
    }
    const session = new SocketSession(socket, deps, now);
    socket.on('disconnect', (reason) => {
      metrics.socketsConnected.dec();
      if (logger.isLevelEnabled('debug')) logger.debug({ ticket: ticketLogId(socket.data.ticketId), reason }, 'socket disconnected');
      session.close();
    });
    // Types prove nothing about the wire: `refresh` carries only its acknowledgement. Without one there is no
    // one to answer; with extra arguments the ack says INVALID_PAYLOAD and nothing is issued.
    socket.on('refresh', (...args: unknown[]) => {
      const ack = args[args.length - 1];
      if (typeof ack !== 'function') {
        logger.debug('refresh without acknowledgement ignored');
        return;
      }
      if (args.length !== 1) {
        (ack as (r: RefreshAck) => void)(ackError('INVALID_PAYLOAD', 'refresh'));
        return;
      }
      session.refresh().then(
        (result) => (ack as (r: RefreshAck) => void)(result),
        (err: unknown) => {
          logger.error({ err }, 'refresh failed');
          (ack as (r: RefreshAck) => void)({ error: { code: 'INTERNAL', message: 'internal error' } });
        },
      );
    });
    session.start().catch((err: unknown) => {
      logger.error({ err }, 'could not announce ticket');
      socket.disconnect(true);
    });
  });
}

/** Longest delay a Node timer honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long a socket whose ticket is over stays connected, for the browser to ask for a new code on it. */
export const HANG_UP_AFTER_MS = 10_000;

/** Answer to a refresh that finished after its socket had gone (nobody reads it). */
const CLOSED: RefreshAck = { error: { code: 'INTERNAL', message: 'connection closed' } };

/** One socket's view of its ticket: delivers each version once, expires the QR on time. */
class SocketSession implements TicketWatcher {
  private seenVersion = 0;
  private refreshing: Promise<RefreshAck> | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private hangUpTimer: NodeJS.Timeout | undefined;
  /** The current ticket reached a final state or left the store. */
  private final = false;
  private closed = false;

  constructor(
    private readonly socket: LoginSocket,
    private readonly deps: LoginNamespaceDeps,
    private readonly now: () => number,
  ) {}

  async start(): Promise<void> {
    const { ticketId } = this.socket.data;
    // Subscribe before reading, so a change between the read and the subscription cannot be missed.
    await this.deps.watchers.watch(ticketId, this);
    // A ticket this connection has just issued needs no read: nobody can have changed it yet. Its QR code and
    // secret reach nobody before the `ticket` event below, so no scan or resume can touch it, and it expires
    // only after its TTL. What was stored is what the store holds, unless the store lost it (Redis restarted):
    // a loss after the subscription is caught by the bus's resync, one before it shows as a resync since
    // the ticket was stored, and then it is read.
    const { issued } = this.socket.data;
    this.socket.data.issued = undefined;
    const ticket =
      issued !== undefined && issued.resyncs === this.deps.watchers.resyncs ? issued.ticket : await this.deps.engine.tickets.get(ticketId);
    if (this.closed || ticketId !== this.socket.data.ticketId) return;
    const { secret } = this.socket.data;
    // Sent once: nothing after this needs it, so the socket stops holding it.
    this.socket.data.secret = undefined;
    if (ticket === null || secret === undefined) {
      this.gone(ticketId);
      return;
    }
    this.socket.emit('ticket', ticketPayload(ticket, secret));
    // A resuming browser already has what it says it received: only newer versions are announced, so its
    // `login` is not sent a second time. Capped at the stored version, so a claim from the future cannot
    // make the socket deaf to the changes still to come.
    // (A ring heard since the subscription may have delivered a newer version already: never go back.)
    this.seenVersion = Math.max(this.seenVersion, Math.min(this.socket.data.resumedVersion ?? 0, ticket.version));
    this.deliver(ticket);
    this.scheduleExpiry(ticket);
  }

  deliver(ticket: Ticket): void {
    if (this.closed || ticket.id !== this.socket.data.ticketId || ticket.version <= this.seenVersion) return;
    this.seenVersion = ticket.version;
    // Confirmed, but the code's minute passed while the browser was away (offline, its gateway gone): a
    // `login` would carry a code the exchange refuses, so the page is told `expired` and shows a new QR code.
    const lapsed = ticket.status === 'confirmed' && (ticket.codeExpiresAt ?? 0) <= this.now();
    const status = lapsed ? 'expired' : wireStatus(ticket.status);
    this.socket.emit('status', { ticket: ticket.id, status, version: ticket.version });
    if (!lapsed && ticket.status === 'confirmed' && ticket.code !== undefined && ticket.openid !== undefined) {
      this.socket.emit('login', { ticket: ticket.id, code: ticket.code, user: ticket.user ?? {}, version: ticket.version });
    }
    if (!isOpen(ticket.status)) {
      this.clearExpiry();
      this.final = true;
      this.scheduleHangUp();
    }
  }

  /**
   * The ticket is over (a final state, or gone from the store): unless the browser refreshes within
   * {@link HANG_UP_AFTER_MS}, the socket has nothing left to hear and is disconnected, its connection closed.
   */
  private scheduleHangUp(): void {
    if (this.closed || this.refreshing !== undefined || this.hangUpTimer !== undefined) return;
    this.hangUpTimer = setTimeout(() => {
      this.hangUpTimer = undefined;
      if (this.closed || this.refreshing !== undefined || !this.final) return;
      this.deps.logger.debug({ ticket: ticketLogId(this.socket.data.ticketId) }, 'ticket over: disconnecting its socket');
      this.socket.disconnect(true);
    }, HANG_UP_AFTER_MS);
    this.hangUpTimer.unref();
  }

  private cancelHangUp(): void {
    if (this.hangUpTimer !== undefined) clearTimeout(this.hangUpTimer);
    this.hangUpTimer = undefined;
  }

  /**
   * Replace this socket's ticket. One at a time: a refresh asked for while another is under way (a double
   * click, an auto-refresh racing a click) gets the same new ticket instead of a second one.
   */
  refresh(): Promise<RefreshAck> {
    // The browser wants a new code: the socket stays, whether or not its ticket was over.
    this.cancelHangUp();
    this.refreshing ??= this.replaceTicket().finally(() => {
      this.refreshing = undefined;
      // Refused (limits, WeChat): the socket still holds a ticket that is over.
      if (this.final) this.scheduleHangUp();
    });
    return this.refreshing;
  }

  private async replaceTicket(): Promise<RefreshAck> {
    const { settings, issuer, watchers } = this.deps;
    if (this.socket.data.refreshes >= settings.maxRefreshesPerSocket) {
      return ackError('REFRESH_LIMIT');
    }
    this.socket.data.refreshes += 1;
    const browser = browserOf(this.socket, settings);
    const refusal = await this.deps.qrBudget.take(browser.ip);
    if (refusal !== null) return ackError('RATE_LIMITED', refusal);
    const issued = await issuer.issue(browser);
    if (!issued.ok) return ackError(issueRefusalCode(issued.reason));
    // The browser left while WeChat answered: nobody will watch the new ticket, let it expire unseen.
    if (this.closed) return CLOSED;
    const previous = this.socket.data.ticketId;
    this.clearExpiry();
    this.final = false;
    this.socket.data.ticketId = issued.ticket.id;
    this.seenVersion = 0;
    // A ticket nobody else has seen: its first place is always free.
    await this.deps.holders.hold(issued.ticket.id, this.socket.id, {
      lost: () => disconnectPlaceless(this.socket, issued.ticket.id, this.deps.logger),
    });
    await this.deps.holders.release(previous, this.socket.id);
    await watchers.watch(issued.ticket.id, this);
    await watchers.unwatch(previous, this);
    if (this.closed) {
      // close() ran meanwhile and may have missed the subscription and the place taken above: never leave
      // them behind.
      await watchers.unwatch(issued.ticket.id, this);
      await this.deps.holders.release(issued.ticket.id, this.socket.id);
      return CLOSED;
    }
    this.socket.emit('ticket', issued.payload);
    this.deliver(issued.ticket);
    this.scheduleExpiry(issued.ticket);
    return issued.payload;
  }

  close(): void {
    this.closed = true;
    this.clearExpiry();
    this.cancelHangUp();
    this.deps.watchers.unwatch(this.socket.data.ticketId, this).catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'unsubscribe failed');
    });
  }

  private scheduleExpiry(ticket: Ticket): void {
    if (isOpen(ticket.status)) this.expireAt(ticket.id, ticket.expiresAt);
  }

  /** The expiry timer closes over the id and the time only: a waiting socket keeps no ticket alive. */
  private expireAt(ticketId: string, expiresAt: number): void {
    this.clearExpiry();
    const delay = Math.max(0, expiresAt - this.now()) + 50;
    // Node fires a timer of more than 2^31-1 ms at once; very long TTLs wait in steps instead.
    this.expiryTimer = setTimeout(
      () => {
        if (delay > MAX_TIMER_MS) return this.expireAt(ticketId, expiresAt);
        this.expire(ticketId).catch((err: unknown) => this.deps.logger.warn({ err }, 'expiry failed'));
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    this.expiryTimer.unref();
  }

  private clearExpiry(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  /** The TTL passed: record `expired` (once, whoever gets there first; `login.expire()` rings every watcher). */
  private async expire(ticketId: string): Promise<void> {
    const outcome = await this.deps.login.expire(ticketId);
    if (this.closed || ticketId !== this.socket.data.ticketId) return;
    // Gone already (this gateway was late beyond the grace): whoever recorded it counted it.
    if (outcome.kind === 'gone') this.gone(ticketId);
    else this.deliver(outcome.ticket);
  }

  /** The ticket is no longer in the store: it can never log in, so the browser is told `expired` (once). */
  gone(ticketId: string): void {
    if (this.closed || ticketId !== this.socket.data.ticketId || this.seenVersion === Number.MAX_SAFE_INTEGER) return;
    this.seenVersion = Number.MAX_SAFE_INTEGER;
    this.clearExpiry();
    this.socket.emit('status', { ticket: ticketId, status: 'expired' });
    this.final = true;
    this.scheduleHangUp();
  }
}

/**
 * The socket no longer holds a place on its ticket: a newer socket of the same browser took it (naming this
 * one in `replaces`), or its lease lapsed. It is a dead or superseded connection, so it goes; were its browser
 * still there after all, it reconnects and resumes like after any server disconnect.
 */
function disconnectPlaceless(socket: LoginSocket, ticketId: string, logger: Logger): void {
  logger.info({ ticket: ticketLogId(ticketId) }, 'socket lost its place on the ticket (replaced or lapsed): disconnecting it');
  // Still in its handshake, a socket has nothing to disconnect but its connection.
  if (socket.connected) socket.disconnect(true);
  else socket.conn.close();
}

/** Who asked, from the handshake: shown to the scanner, and the key of the ticket quota. */
function browserOf(socket: LoginSocket, settings: GatewaySettings): BrowserContext {
  const headers = socket.handshake.headers;
  const browser: BrowserContext = {
    userAgent: String(headers['user-agent'] ?? '').slice(0, 512),
    ip: clientIp(socket.handshake.address, headers['x-forwarded-for'], settings.trustProxy),
  };
  // The site the login began on: its tokens are issued for it alone (`aud`), and only it may redeem the code.
  const site = requestSite(headers.origin, headers.host, settings);
  if (site !== undefined) browser.site = site;
  return browser;
}

/** The refusal a browser is given when no ticket could be issued, by whose failure it was. */
function issueRefusalCode(reason: IssueRefusal): 'STORE_UNAVAILABLE' | 'WECHAT_UNAVAILABLE' {
  return reason === 'store_unavailable' ? 'STORE_UNAVAILABLE' : 'WECHAT_UNAVAILABLE';
}
