/**
 * The browser side of a QR login: one Socket.IO connection to the gateway's `/login` namespace holding one
 * ticket, resumed with its secret after every reconnect, and the code exchange at the end. Rendering is
 * optional (see qr-login-view.ts); without a container this is events and callbacks only.
 */
import { io, type Socket } from 'socket.io-client';
// Only the browser-safe modules of the protocol: its index also re-exports the zod schemas.
import { LOGIN_NAMESPACE } from '../protocol/events.js';
import type {
  AckError,
  ClientToServerEvents,
  ErrorCode,
  LoginPayload,
  LoginUser,
  RefreshAck,
  ServerToClientEvents,
  TicketPayload,
  WireTicketStatus,
} from '../protocol/events.js';
import { SESSION_ROUTE, type ErrorResponse, type SessionResponse } from '../protocol/http.js';
import { AutoRefreshBudget, DEFAULT_MAX_AUTO_REFRESHES } from './auto-refresh.js';
import { MESSAGES, pickLocale, type Locale, type Messages } from './messages.js';
import { createQrLoginView, type QrLoginView } from './qr-login-view.js';

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

/**
 * What `onLogin` receives once the code was exchanged. On the gateway's own origin (or a same-site one) the
 * HttpOnly session cookie is set by then too; a cross-site embedding site should send `token` to its own
 * backend and verify it there, since browsers do not store a SameSite=Lax cookie from a cross-site fetch.
 */
export interface QrLoginResult {
  openid: string;
  /**
   * Session JWT; verify it against the gateway's `/.well-known/jwks.json` (audience `qrgate`). Absent when the
   * code was redeemed at an `exchangeUrl` that finishes something else (an OpenID Connect sign-in).
   */
  token?: string;
  /** Where to continue, when the exchange endpoint says so (the OpenID Connect login step: back to the client). */
  redirectTo?: string;
  user: LoginUser;
}

export interface QrLoginOptions {
  /** Gateway origin, e.g. `https://login.example.com` (the page's own origin for the built-in page). */
  url: string;
  /** Where to render the QR code, states and refresh button. Absent: no DOM is touched (headless). */
  container?: HTMLElement;
  /** `en` or `zh`. Default: from `navigator.language`. */
  locale?: Locale;
  /** Override single texts of the chosen locale. */
  messages?: Partial<Messages>;
  /**
   * Where the login code and the browser's secret are redeemed (POST JSON `{ code, secret }`). Default
   * `<url>/api/session`, answering `{ openid, token }`. The gateway's OpenID Connect login step uses
   * `/oidc/interaction/<uid>/finish`, answering `{ openid, redirectTo }`.
   */
  exchangeUrl?: string;
  /** Called once after a successful code exchange. */
  onLogin?(result: QrLoginResult): void;
  /** Called on every change of what is shown. */
  onStateChange?(state: QrLoginState): void;
  /** Automatic refreshes of an expired code in a row before asking the user. Default 5. */
  maxAutoRefreshes?: number;
  /** Insert the widget's default stylesheet (rendered mode only). Default true. */
  styles?: boolean;
  /** CSP nonce for that stylesheet, when the embedding page's CSP requires one. */
  nonce?: string;
}

/** A running login widget. */
export interface QrLoginHandle {
  /** The current snapshot. */
  readonly state: QrLoginState;
  /** User action: get a new QR code now and re-arm automatic refreshes. No effect once signed in. */
  refresh(): void;
  /** Close the connection, stop every timer and remove what was rendered. */
  destroy(): void;
}

/** A draining gateway refuses new sockets with SHUTTING_DOWN; the next attempt reaches another instance. */
const SHUTDOWN_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;
/** Automatic retries after INTERNAL or WECHAT_UNAVAILABLE before the user is asked to click. */
const MAX_TRANSIENT_RETRIES = 3;
const REFRESH_ACK_TIMEOUT_MS = 15_000;
const EXCHANGE_ATTEMPTS = 3;

type Phase = 'active' | 'exchanging' | 'signed-in' | 'error';

/**
 * Start a QR login against a gateway: connect, show (or report) the QR code and its states, and exchange the
 * login code for a session when the phone confirms.
 */
export function createQrLogin(options: QrLoginOptions): QrLoginHandle {
  const base = options.url.replace(/\/+$/, '');
  const locale = options.locale ?? pickLocale(typeof navigator === 'undefined' ? undefined : navigator.language);
  const messages: Messages = { ...MESSAGES[locale], ...options.messages };
  const budget = new AutoRefreshBudget(options.maxAutoRefreshes ?? DEFAULT_MAX_AUTO_REFRESHES);

  // The secret lives only in this closure: never in the snapshot, the DOM or `window`.
  let held: { ticket: string; secret: string } | undefined;
  let qr: QrCodeView | undefined;
  let ticketStatus: WireTicketStatus | undefined;
  let phase: Phase = 'active';
  let connection: 'connecting' | 'online' | 'offline' | 'idle' = 'connecting';
  let refreshing = false;
  let error: QrLoginState['error'];
  let session: QrLoginState['session'];
  let destroyed = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryDelay = SHUTDOWN_RETRY_MS;
  /** INTERNAL / WECHAT_UNAVAILABLE refusals in a row, retried automatically up to MAX_TRANSIENT_RETRIES. */
  let transientFailures = 0;
  let snapshot = computeState();

  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`${base}${LOGIN_NAMESPACE}`, {
    autoConnect: false,
    forceNew: true,
    // WebSocket first; plain HTTP long-polling where a proxy blocks it.
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    // Sends the load balancer's sticky cookie when the gateway is on another origin.
    withCredentials: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
    // Evaluated on every (re)connection: resume the ticket we hold, or ask for a new one.
    auth: (cb) => cb(held ? { ticket: held.ticket, secret: held.secret } : {}),
  });

  const view: QrLoginView | undefined = options.container
    ? createQrLoginView(options.container, {
        messages,
        locale,
        styles: options.styles ?? true,
        ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
        onRefresh: () => handle.refresh(),
      })
    : undefined;

  function computeState(): QrLoginState {
    let state: QrLoginStateName;
    if (phase === 'signed-in') state = 'signed-in';
    else if (phase === 'error') state = 'error';
    else if (phase === 'exchanging') state = 'confirmed';
    else if (refreshing) state = 'connecting';
    else if (ticketStatus === 'expired' || ticketStatus === 'cancelled') state = ticketStatus;
    else if (connection === 'offline') state = 'offline';
    else if (qr === undefined || ticketStatus === undefined) state = 'connecting';
    else state = ticketStatus;
    const needsAction =
      state === 'cancelled' || state === 'error' || (state === 'expired' && budget.spent >= budget.max);
    return {
      state,
      ...(qr ? { qr } : {}),
      ...(error ? { error } : {}),
      ...(session ? { session } : {}),
      needsAction,
      autoRefreshes: budget.spent,
    };
  }

  function publish(): void {
    if (destroyed) return;
    const next = computeState();
    if (JSON.stringify(next) === JSON.stringify(snapshot)) return;
    snapshot = next;
    view?.update(next);
    call(() => options.onStateChange?.(next));
  }

  const isVisible = (): boolean => typeof document === 'undefined' || document.visibilityState !== 'hidden';

  /** The current code expired: replace it if nobody needs to be asked. */
  function onExpired(): void {
    if (phase !== 'active') return;
    const decision = budget.decide(isVisible());
    // A hidden tab waits for `visibilitychange`; a spent budget waits for a click (needsAction).
    if (decision === 'refresh') requestNewTicket();
    else publish();
  }

  function requestNewTicket(): void {
    phase = 'active';
    error = undefined;
    refreshing = true;
    publish();
    if (!socket.connected) {
      // Reconnecting without auth creates a new ticket.
      held = undefined;
      if (!socket.active) socket.connect();
      return;
    }
    socket.timeout(REFRESH_ACK_TIMEOUT_MS).emit('refresh', (err: Error | null, ack: RefreshAck) => {
      if (destroyed) return;
      if (err !== null) {
        fail({ code: 'INTERNAL', message: 'the gateway did not answer' });
        return;
      }
      if (isAckError(ack)) {
        if (ack.error.code === 'REFRESH_LIMIT') return reconnectFresh();
        fail(ack.error);
      }
      // Success: the `ticket` event carrying the same payload already arrived.
    });
  }

  /** A fresh socket gets a fresh per-socket refresh allowance (the per-IP rate limit still applies). */
  function reconnectFresh(): void {
    held = undefined;
    socket.disconnect();
    socket.connect();
  }

  function fail(reason: { code: QrLoginErrorCode; message: string }): void {
    phase = 'error';
    refreshing = false;
    error = reason;
    publish();
  }

  /** Retry a refused or cut connection later, backing off while the answer stays the same. */
  function retryLater(): void {
    clearTimeout(retryTimer);
    const delay = retryDelay * (0.75 + Math.random() / 2);
    retryDelay = Math.min(retryDelay * 2, MAX_RETRY_MS);
    retryTimer = setTimeout(() => {
      if (!destroyed && !socket.connected && !socket.active) socket.connect();
    }, delay);
  }

  socket.on('connect', () => {
    connection = 'online';
    retryDelay = SHUTDOWN_RETRY_MS;
    transientFailures = 0;
    publish();
  });

  socket.on('ticket', (payload: TicketPayload) => {
    if (phase === 'signed-in' || phase === 'exchanging') return;
    const resumed = held?.ticket === payload.ticket;
    held = { ticket: payload.ticket, secret: payload.secret };
    qr = { ticket: payload.ticket, qrUrl: payload.qrUrl, qrImage: payload.qrImage, expiresAt: payload.expiresAt };
    // A resumed ticket keeps its status until the `status` re-announcement that follows.
    if (!resumed) ticketStatus = 'pending';
    refreshing = false;
    publish();
  });

  socket.on('status', ({ ticket, status }) => {
    if (ticket !== held?.ticket || phase !== 'active') return;
    ticketStatus = status;
    // A scan proves someone is watching: the next expiries may refresh by themselves again.
    if (status === 'scanned') budget.reset();
    publish();
    if (status === 'expired') onExpired();
  });

  socket.on('login', (payload: LoginPayload) => {
    if (payload.ticket !== held?.ticket || phase !== 'active') return;
    void exchange(payload, held.secret);
  });

  socket.on('disconnect', (reason) => {
    if (destroyed || phase === 'signed-in' || reason === 'io client disconnect') return;
    connection = 'offline';
    publish();
    // The server ended the session (it restarts or closes): Socket.IO does not come back by itself then.
    if (reason === 'io server disconnect') retryLater();
  });

  socket.on('connect_error', (err: Error & { data?: { code?: ErrorCode } }) => {
    if (destroyed || phase === 'signed-in') return;
    const code = err.data?.code;
    if (code === undefined) {
      // Network trouble: Socket.IO keeps retrying with its own backoff.
      connection = socket.active ? 'offline' : 'idle';
      publish();
      if (!socket.active) retryLater();
      return;
    }
    switch (code) {
      case 'TICKET_NOT_FOUND':
      case 'TICKET_SECRET_MISMATCH':
      case 'INVALID_PAYLOAD':
        // The held ticket is gone (expired while we were away, or the engine forgot it): like an expiry.
        held = undefined;
        connection = 'idle';
        if (phase === 'exchanging') return;
        ticketStatus = 'expired';
        refreshing = false;
        publish();
        onExpired();
        return;
      case 'SHUTTING_DOWN':
        connection = 'offline';
        publish();
        retryLater();
        return;
      case 'INTERNAL':
      case 'WECHAT_UNAVAILABLE':
        // Passing trouble behind the gateway (Redis failing over, WeChat busy): try again a few times with
        // backoff before asking the user. A resume costs nothing; a new ticket costs WeChat quota, hence the cap.
        if (transientFailures < MAX_TRANSIENT_RETRIES) {
          transientFailures += 1;
          connection = 'offline';
          publish();
          retryLater();
          return;
        }
        connection = 'idle';
        fail({ code, message: err.message });
        return;
      default:
        connection = 'idle';
        fail({ code, message: err.message });
    }
  });

  async function exchange(login: LoginPayload, secret: string): Promise<void> {
    phase = 'exchanging';
    publish();
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(options.exchangeUrl ?? `${base}${SESSION_ROUTE}`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ code: login.code, secret }),
        });
      } catch (err) {
        if (destroyed) return;
        if (attempt < EXCHANGE_ATTEMPTS) {
          await new Promise((r) => setTimeout(r, 1000 * attempt));
          continue;
        }
        return fail({ code: 'NETWORK', message: err instanceof Error ? err.message : String(err) });
      }
      if (destroyed) return;
      const body = (await res.json().catch(() => ({}))) as Partial<SessionResponse & ErrorResponse & { redirectTo: string }>;
      const token = typeof body.token === 'string' ? body.token : undefined;
      const redirectTo = typeof body.redirectTo === 'string' ? body.redirectTo : undefined;
      if (!res.ok || typeof body.openid !== 'string' || (token === undefined && redirectTo === undefined)) {
        return fail({ code: asErrorCode(body.code), message: body.error ?? `HTTP ${res.status}` });
      }
      phase = 'signed-in';
      session = { openid: body.openid, user: login.user };
      held = undefined;
      publish();
      // Nothing more will come over the socket; free the gateway's slot.
      socket.disconnect();
      const result: QrLoginResult = {
        openid: body.openid,
        ...(token !== undefined ? { token } : {}),
        ...(redirectTo !== undefined ? { redirectTo } : {}),
        user: login.user,
      };
      call(() => options.onLogin?.(result));
      return;
    }
  }

  const onVisibilityChange = (): void => {
    if (isVisible() && phase === 'active' && ticketStatus === 'expired' && !refreshing) onExpired();
  };
  // Coming back online: reconnect now instead of waiting out Socket.IO's backoff.
  const onOnline = (): void => {
    if (destroyed || socket.connected || phase === 'signed-in') return;
    if (socket.active) {
      socket.disconnect();
      socket.connect();
    }
  };
  if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisibilityChange);
  if (typeof window !== 'undefined') window.addEventListener('online', onOnline);

  const handle: QrLoginHandle = {
    get state() {
      return snapshot;
    },
    refresh() {
      if (destroyed || phase === 'signed-in' || phase === 'exchanging') return;
      budget.reset();
      clearTimeout(retryTimer);
      requestNewTicket();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      clearTimeout(retryTimer);
      if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisibilityChange);
      if (typeof window !== 'undefined') window.removeEventListener('online', onOnline);
      socket.disconnect();
      view?.destroy();
    },
  };

  view?.update(snapshot);
  socket.connect();
  return handle;
}

function isAckError(ack: RefreshAck): ack is AckError {
  return typeof ack === 'object' && ack !== null && 'error' in ack;
}

function asErrorCode(code: string | undefined): QrLoginErrorCode {
  return (code as ErrorCode | undefined) ?? 'INTERNAL';
}

/** A throwing callback of the embedding page must not break the login flow, nor vanish unseen. */
function call(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error('qrgate: callback failed', err);
  }
}
