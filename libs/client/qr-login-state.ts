/**
 * The browser SDK's state as a pure reducer: `reduce(model, event)` returns the next model and the I/O the
 * shell must do (connect, emit `refresh`, retry later, exchange the code…). qr-login.ts only translates
 * socket, fetch and page events into `LoginEvent`s and runs the effects, so every rule of what the widget
 * shows and when it asks for a new QR code lives here and is unit-tested without a socket (the same style as
 * libs/ticket/ticket-state.ts). Nothing here touches the network, the DOM, timers or randomness.
 */
import type { ErrorCode, LoginPayload, LoginUser, RefreshAck, StatusPayload, TicketPayload, WireTicketStatus } from '../protocol/events.js';
import { autoRefreshDecision } from './auto-refresh.js';

/** What the widget is showing. */
export type QrLoginStateName =
  | 'connecting'
  | 'pending'
  | 'scanned'
  | 'confirmed'
  | 'signed-in'
  | 'cancelled'
  | 'expired'
  | 'offline'
  | 'error';

/** Error codes of the gateway plus the client's own (`NETWORK`: the exchange could not reach the gateway). */
export type QrLoginErrorCode = ErrorCode | 'NETWORK';

/** The QR code on display. Holds nothing secret. */
export interface QrCodeView {
  ticket: string;
  qrUrl: string;
  qrImage: string;
  /** Expiry, epoch milliseconds (the gateway's clock). */
  expiresAt: number;
}

/** A snapshot handed to `onStateChange`. */
export interface QrLoginState {
  state: QrLoginStateName;
  qr?: QrCodeView;
  /** Set in the `error` state. */
  error?: { code: QrLoginErrorCode; message: string };
  /** Set in the `signed-in` state. */
  session?: { openid: string; user: LoginUser };
  /** A new QR code now needs the user's click: automatic refreshes stopped, the phone declined, or an error. */
  needsAction: boolean;
  /** Automatic refreshes since the last user action or scan. */
  autoRefreshes: number;
}

/** A draining gateway refuses new sockets with SHUTTING_DOWN; the next attempt reaches another instance. */
export const SHUTDOWN_RETRY_MS = 500;
export const MAX_RETRY_MS = 10_000;
/** Automatic retries after INTERNAL, WECHAT_UNAVAILABLE or STORE_UNAVAILABLE before the user is asked to click. */
export const MAX_TRANSIENT_RETRIES = 3;

type Phase = 'active' | 'exchanging' | 'signed-in' | 'error';
type Connection = 'connecting' | 'online' | 'offline' | 'idle';
type Failure = { code: QrLoginErrorCode; message: string };

/**
 * Everything the widget knows. Private to one `createQrLogin`: it holds the ticket's secret, which never
 * reaches the snapshot (`snapshotOf`), the DOM or `window`.
 */
export interface LoginModel {
  /**
   * The ticket this widget holds. `version`: the last version of it received (a `status` other than
   * `confirmed`, or a `login`); handed back on resume so the gateway does not send a `login` twice. `socket`:
   * the id of the last socket that held it, named on resume (`replaces`) so that socket's place, if its dead
   * connection still has one, is the new socket's and the page is not refused `TICKET_IN_USE` by itself.
   */
  readonly held?: { ticket: string; secret: string; version?: number; socket?: string };
  readonly qr?: QrCodeView;
  readonly ticketStatus?: WireTicketStatus;
  readonly phase: Phase;
  readonly connection: Connection;
  /** A new ticket was asked for and has not arrived. */
  readonly refreshing: boolean;
  readonly error?: Failure;
  readonly session?: { openid: string; user: LoginUser };
  /** Automatic refreshes since the last user action or scan, and how many are allowed in a row. */
  readonly autoRefreshes: number;
  readonly maxAutoRefreshes: number;
  /** INTERNAL / WECHAT_UNAVAILABLE / STORE_UNAVAILABLE refusals in a row, retried automatically up to MAX_TRANSIENT_RETRIES. */
  readonly transientFailures: number;
  /** The next `retry-later` delay before jitter; doubles while the answer stays the same. */
  readonly retryDelayMs: number;
  /**
   * The gateway refused a resume that named its socket (`replaces`) as INVALID_PAYLOAD: one older than that
   * field (during a rolling update), whose strict schema rejects it. Resumes leave it out from then on.
   */
  readonly replacesRefused?: boolean;
}

/** What happened, as the shell saw it (with the facts about the socket and the page a rule needs). */
export type LoginEvent =
  /** `socket`: the new socket's id; it holds the ticket the handshake resumed, if any. */
  | { type: 'connected'; socket?: string }
  /** `socket`: the id of the socket the ticket came on, which holds it now. */
  | { type: 'ticket'; payload: TicketPayload; socket?: string }
  | { type: 'status'; payload: StatusPayload; visible: boolean }
  | { type: 'login'; payload: LoginPayload }
  | { type: 'disconnected'; reason: string }
  /** `code` is the gateway's refusal; undefined for network trouble. `active`: Socket.IO keeps retrying. */
  | { type: 'connect-error'; code: ErrorCode | undefined; message: string; active: boolean; visible: boolean }
  /** The answer to an emitted `refresh`, or `timeout` when none came. */
  | { type: 'refresh-answered'; answer: RefreshAck | 'timeout' }
  /** The user asked for a new QR code. */
  | { type: 'refresh-clicked'; connected: boolean }
  /** The page became visible again. */
  | { type: 'visible'; connected: boolean }
  | { type: 'signed-in'; openid: string; user: LoginUser }
  | { type: 'exchange-failed'; error: Failure };

/** I/O for the shell, in order. `show` publishes an intermediate snapshot before the final one. */
export type LoginEffect =
  | { type: 'show'; snapshot: QrLoginState }
  /** Connect unless Socket.IO is already trying; without a held ticket the handshake asks for a new one. */
  | { type: 'connect' }
  /** A new socket (a fresh per-socket refresh allowance): disconnect, then connect. */
  | { type: 'reconnect' }
  | { type: 'emit-refresh' }
  /** Connect again after `delayMs` (plus jitter), unless connected or Socket.IO is trying by then. */
  | { type: 'retry-later'; delayMs: number }
  | { type: 'cancel-retry' }
  | { type: 'exchange'; code: string; secret: string; user: LoginUser }
  | { type: 'disconnect' };

export interface Reduced {
  model: LoginModel;
  effects: LoginEffect[];
}

export function initialModel(maxAutoRefreshes: number): LoginModel {
  return {
    phase: 'active',
    connection: 'connecting',
    refreshing: false,
    autoRefreshes: 0,
    maxAutoRefreshes,
    transientFailures: 0,
    retryDelayMs: SHUTDOWN_RETRY_MS,
  };
}

/** What the widget shows for `model`. */
export function snapshotOf(model: LoginModel): QrLoginState {
  const { phase, ticketStatus, qr, error, session } = model;
  let state: QrLoginStateName;
  if (phase === 'signed-in') state = 'signed-in';
  else if (phase === 'error') state = 'error';
  else if (phase === 'exchanging') state = 'confirmed';
  else if (model.refreshing) state = 'connecting';
  else if (ticketStatus === 'expired' || ticketStatus === 'cancelled') state = ticketStatus;
  else if (model.connection === 'offline') state = 'offline';
  else if (qr === undefined || ticketStatus === undefined) state = 'connecting';
  else state = ticketStatus;
  const needsAction = state === 'cancelled' || state === 'error' || (state === 'expired' && model.autoRefreshes >= model.maxAutoRefreshes);
  return {
    state,
    ...(qr ? { qr } : {}),
    ...(error ? { error } : {}),
    ...(session ? { session } : {}),
    needsAction,
    autoRefreshes: model.autoRefreshes,
  };
}

const unchanged = (model: LoginModel): Reduced => ({ model, effects: [] });

/** Apply one event. Never throws. */
export function reduce(model: LoginModel, event: LoginEvent): Reduced {
  switch (event.type) {
    case 'connected': {
      // The handshake resumed the held ticket (a `ticket` event only replaces it): this socket holds it now,
      // even if the connection drops before that event arrives.
      const held = model.held !== undefined ? heldBy(model.held, event.socket) : undefined;
      return unchanged({
        ...model,
        ...(held ? { held } : {}),
        connection: 'online',
        retryDelayMs: SHUTDOWN_RETRY_MS,
        transientFailures: 0,
      });
    }

    case 'ticket': {
      if (model.phase === 'signed-in' || model.phase === 'exchanging') return unchanged(model);
      const { payload } = event;
      const resumed = model.held?.ticket === payload.ticket;
      const held = resumed && model.held !== undefined ? model.held : { ticket: payload.ticket, secret: payload.secret };
      return unchanged({
        ...model,
        held: heldBy(held, event.socket),
        qr: { ticket: payload.ticket, qrUrl: payload.qrUrl, qrImage: payload.qrImage, expiresAt: payload.expiresAt },
        // A resumed ticket keeps its status until the `status` re-announcement that follows.
        ticketStatus: resumed ? model.ticketStatus : 'pending',
        refreshing: false,
      });
    }

    case 'status': {
      const { ticket, status } = event.payload;
      if (ticket !== model.held?.ticket || model.phase !== 'active') return unchanged(model);
      // A scan proves someone is watching: the next expiries may refresh by themselves again.
      // `confirmed` is not recorded as received: only its `login` (which follows) proves the code arrived.
      const held = status !== 'confirmed' ? heardVersion(model.held, event.payload.version) : model.held;
      const next = { ...model, held, ticketStatus: status, autoRefreshes: status === 'scanned' ? 0 : model.autoRefreshes };
      if (status !== 'expired') return unchanged(next);
      return shownFirst(next, onExpired(next, event.visible, true));
    }

    case 'login': {
      const { held } = model;
      if (event.payload.ticket !== held?.ticket || model.phase !== 'active') return unchanged(model);
      return {
        model: { ...model, held: heardVersion(held, event.payload.version), phase: 'exchanging' },
        effects: [{ type: 'exchange', code: event.payload.code, secret: held.secret, user: event.payload.user }],
      };
    }

    case 'disconnected': {
      if (model.phase === 'signed-in' || event.reason === 'io client disconnect') return unchanged(model);
      const offline: LoginModel = { ...model, connection: 'offline' };
      // The gateway hangs up a socket whose ticket is over: nothing to come back for until the page is seen
      // again or the user asks (either connects for a new code), so no reconnection spends a QR code.
      if (event.reason === 'io server disconnect' && isOver(model)) return unchanged({ ...model, connection: 'idle' });
      // The server ended the session (it restarts or closes): Socket.IO does not come back by itself then.
      return event.reason === 'io server disconnect' ? retryLater(offline) : unchanged(offline);
    }

    case 'connect-error':
      return connectError(model, event);

    case 'refresh-answered': {
      const { answer } = event;
      if (answer === 'timeout') return unchanged(fail(model, { code: 'INTERNAL', message: 'the gateway did not answer' }));
      if (!('error' in answer)) return unchanged(model); // the `ticket` event with the same payload came first
      // A fresh socket gets a fresh per-socket refresh allowance (the per-IP rate limit still applies).
      if (answer.error.code === 'REFRESH_LIMIT') return { model: withoutHeld(model), effects: [{ type: 'reconnect' }] };
      return unchanged(fail(model, answer.error));
    }

    case 'refresh-clicked': {
      if (model.phase === 'signed-in' || model.phase === 'exchanging') return unchanged(model);
      const asked = requestNewTicket({ ...model, autoRefreshes: 0 }, event.connected);
      return { model: asked.model, effects: [{ type: 'cancel-retry' }, ...asked.effects] };
    }

    case 'visible':
      if (model.phase !== 'active' || model.ticketStatus !== 'expired' || model.refreshing) return unchanged(model);
      return onExpired(model, true, event.connected);

    case 'signed-in':
      return {
        model: withoutHeld({ ...model, phase: 'signed-in', session: { openid: event.openid, user: event.user } }),
        // Nothing more will come over the socket; free the gateway's slot.
        effects: [{ type: 'disconnect' }],
      };

    case 'exchange-failed':
      return unchanged(fail(model, event.error));
  }
}

function connectError(model: LoginModel, event: Extract<LoginEvent, { type: 'connect-error' }>): Reduced {
  if (model.phase === 'signed-in') return unchanged(model);
  const { code } = event;
  if (code === undefined) {
    // Network trouble: Socket.IO keeps retrying with its own backoff; when it gave up, retry later ourselves.
    const next: LoginModel = { ...model, connection: event.active ? 'offline' : 'idle' };
    return event.active ? unchanged(next) : retryLater(next);
  }
  if (code === 'INVALID_PAYLOAD' && sendsReplaces(model)) {
    // Only `replaces` can be new to a gateway in what this client sends: resume once more without it.
    return { model: { ...model, replacesRefused: true, connection: 'offline' }, effects: [{ type: 'connect' }] };
  }
  switch (code) {
    case 'TICKET_NOT_FOUND':
    case 'TICKET_SECRET_MISMATCH':
    case 'INVALID_PAYLOAD': {
      // The held ticket is gone (expired while we were away, or the engine forgot it): like an expiry.
      const lost: LoginModel = { ...withoutHeld(model), connection: 'idle' };
      if (lost.phase === 'exchanging') return unchanged(lost);
      const expired: LoginModel = { ...lost, ticketStatus: 'expired', refreshing: false };
      return shownFirst(expired, onExpired(expired, event.visible, false));
    }
    // A draining gateway, or one with too many connections on their way in: another attempt, later, gets through.
    case 'SHUTTING_DOWN':
    case 'GATEWAY_BUSY':
      return retryLater({ ...model, connection: 'offline' });
    case 'INTERNAL':
    case 'WECHAT_UNAVAILABLE':
    case 'STORE_UNAVAILABLE':
    // The ticket's two places are taken by sockets other than the one this resume named (`replaces`): another
    // tab or device with the secret, or dead sockets of ours older than the last one. They go within a minute.
    case 'TICKET_IN_USE':
      // Passing trouble behind the gateway (Redis failing over, WeChat busy): try again a few times with
      // backoff before asking the user. A resume costs nothing; a new ticket costs WeChat quota, hence the cap.
      if (model.transientFailures < MAX_TRANSIENT_RETRIES) {
        return retryLater({ ...model, transientFailures: model.transientFailures + 1, connection: 'offline' });
      }
      return unchanged(fail({ ...model, connection: 'idle' }, { code, message: event.message }));
    default:
      return unchanged(fail({ ...model, connection: 'idle' }, { code, message: event.message }));
  }
}

/** The held ticket can log in no more: it expired or was refused, or the widget stopped on an error. */
function isOver(model: LoginModel): boolean {
  return model.ticketStatus === 'expired' || model.ticketStatus === 'cancelled' || model.phase === 'error';
}

/** The current code expired: replace it if nobody needs to be asked. */
function onExpired(model: LoginModel, visible: boolean, connected: boolean): Reduced {
  if (model.phase !== 'active') return unchanged(model);
  // A hidden tab waits for `visible`; a spent budget waits for a click (needsAction).
  if (autoRefreshDecision(model.autoRefreshes, model.maxAutoRefreshes, visible) !== 'refresh') return unchanged(model);
  return requestNewTicket({ ...model, autoRefreshes: model.autoRefreshes + 1 }, connected);
}

function requestNewTicket(model: LoginModel, connected: boolean): Reduced {
  const asking: LoginModel = { ...model, phase: 'active', error: undefined, refreshing: true };
  // Reconnecting without auth creates a new ticket.
  if (!connected) return { model: withoutHeld(asking), effects: [{ type: 'connect' }] };
  return { model: asking, effects: [{ type: 'emit-refresh' }] };
}

/** Retry a refused or cut connection later, backing off while the answer stays the same. */
function retryLater(model: LoginModel): Reduced {
  return {
    model: { ...model, retryDelayMs: Math.min(model.retryDelayMs * 2, MAX_RETRY_MS) },
    effects: [{ type: 'retry-later', delayMs: model.retryDelayMs }],
  };
}

function fail(model: LoginModel, error: Failure): LoginModel {
  return { ...model, phase: 'error', refreshing: false, error };
}

/** `held` with `version` recorded as received (never lowered; a gateway without versions sends none). */
function heardVersion(held: NonNullable<LoginModel['held']>, version: number | undefined): NonNullable<LoginModel['held']> {
  if (typeof version !== 'number' || version <= (held.version ?? 0)) return held;
  return { ...held, version };
}

/** The socket a resume of `model.held` names in `replaces`, if it names one. */
export function replacedSocket(model: LoginModel): string | undefined {
  return model.replacesRefused === true ? undefined : model.held?.socket;
}

const sendsReplaces = (model: LoginModel): boolean => replacedSocket(model) !== undefined;

/** `held` as now held by the socket `id` (unchanged when the shell knows no id). */
function heldBy(held: NonNullable<LoginModel['held']>, id: string | undefined): NonNullable<LoginModel['held']> {
  return id === undefined || id === held.socket ? held : { ...held, socket: id };
}

function withoutHeld(model: LoginModel): LoginModel {
  const { held: _held, ...rest } = model;
  return rest;
}

/** `before` is shown as it is, then `after` happens (e.g. an expiry, then the automatic refresh it starts). */
function shownFirst(before: LoginModel, after: Reduced): Reduced {
  return { model: after.model, effects: [{ type: 'show', snapshot: snapshotOf(before) }, ...after.effects] };
}
