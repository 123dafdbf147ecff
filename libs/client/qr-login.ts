/**
 * The browser side of a QR login: one Socket.IO connection to the gateway's `/login` namespace holding one
 * ticket, resumed with its secret after every reconnect, and the code exchange at the end. This file is the
 * I/O shell: socket, fetch, timers and page events become `LoginEvent`s for the pure reducer in
 * qr-login-state.ts, whose effects it runs. Rendering is optional (see qr-login-view.ts); without a container
 * this is events and callbacks only.
 */
import { io, type Socket } from 'socket.io-client';
// Only the browser-safe modules of the protocol: its index also re-exports the zod schemas.
import { errorMessage, refusalCode } from '../protocol/errors.js';
import { LOGIN_NAMESPACE } from '../protocol/events.js';
import type { ClientToServerEvents, ErrorCode, LoginUser, RefreshAck, ServerToClientEvents } from '../protocol/events.js';
import { SESSION_ROUTE, type ErrorResponse, type SessionResponse } from '../protocol/http.js';
import { DEFAULT_MAX_AUTO_REFRESHES } from './auto-refresh.js';
import { EXCHANGE_ATTEMPT_TIMEOUT_MS, exchangeRetryable, exchangeRetryDelayMs } from './exchange-retry.js';
import { RECONNECT_BACKOFF } from './reconnect.js';
import { MESSAGES, pickLocale, type Locale, type Messages } from './messages.js';
import {
  initialModel,
  reduce,
  replacedSocket,
  snapshotOf,
  type LoginEffect,
  type LoginEvent,
  type LoginModel,
  type QrLoginErrorCode,
  type QrLoginState,
} from './qr-login-state.js';
import { createQrLoginView, type QrLoginView } from './qr-login-view.js';

export type { QrCodeView, QrLoginErrorCode, QrLoginState, QrLoginStateName } from './qr-login-state.js';

/**
 * What `onLogin` receives once the code was exchanged. On the gateway's own origin (or a same-site one) the
 * HttpOnly session cookie is set by then too; a cross-site embedding site should send `token` to its own
 * backend and verify it there, since browsers do not store a SameSite=Lax cookie from a cross-site fetch.
 */
export interface QrLoginResult {
  openid: string;
  /**
   * Session JWT; verify it against the gateway's `/.well-known/jwks.json` (audience = this page's origin). Absent when the
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

const REFRESH_ACK_TIMEOUT_MS = 15_000;

/**
 * Start a QR login against a gateway: connect, show (or report) the QR code and its states, and exchange the
 * login code for a session when the phone confirms.
 */
export function createQrLogin(options: QrLoginOptions): QrLoginHandle {
  const base = options.url.replace(/\/+$/, '');
  const locale = options.locale ?? pickLocale(typeof navigator === 'undefined' ? undefined : navigator.language);
  const messages: Messages = { ...MESSAGES[locale], ...options.messages };

  let model: LoginModel = initialModel(options.maxAutoRefreshes ?? DEFAULT_MAX_AUTO_REFRESHES);
  let snapshot = snapshotOf(model);
  let destroyed = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  // A tab opened in the background connects only once someone looks at it: a connection without a held ticket
  // spends one of the WeChat account's daily QR codes.
  let started = false;

  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`${base}${LOGIN_NAMESPACE}`, {
    autoConnect: false,
    forceNew: true,
    // WebSocket first; plain HTTP long-polling where a proxy blocks it.
    transports: ['websocket', 'polling'],
    tryAllTransports: true,
    // Sends the load balancer's sticky cookie when the gateway is on another origin.
    withCredentials: true,
    ...RECONNECT_BACKOFF,
    // Evaluated on every (re)connection: resume the ticket we hold, or ask for a new one.
    auth: (cb) => {
      const held = model.held;
      if (held === undefined) return cb({});
      const replaces = replacedSocket(model);
      // The version tells the gateway what this page already received, so a `login` is not delivered twice;
      // `replaces` names this page's previous socket, whose place (if its dead connection still holds one)
      // the new socket takes.
      cb({
        ticket: held.ticket,
        secret: held.secret,
        ...(held.version !== undefined ? { version: held.version } : {}),
        ...(replaces !== undefined ? { replaces } : {}),
      });
    },
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

  function publish(next: QrLoginState): void {
    if (destroyed) return;
    if (JSON.stringify(next) === JSON.stringify(snapshot)) return;
    snapshot = next;
    view?.update(next);
    call(() => options.onStateChange?.(next));
  }

  /** Reduce, show what changed, then do the I/O the reducer asked for, in its order. */
  function dispatch(event: LoginEvent): void {
    const reduced = reduce(model, event);
    model = reduced.model;
    for (const effect of reduced.effects) if (effect.type === 'show') publish(effect.snapshot);
    publish(snapshotOf(model));
    for (const effect of reduced.effects) run(effect);
  }

  function run(effect: LoginEffect): void {
    switch (effect.type) {
      case 'show':
        return;
      case 'connect':
        started = true;
        if (!socket.active) socket.connect();
        return;
      case 'reconnect':
        socket.disconnect();
        socket.connect();
        return;
      case 'emit-refresh':
        socket.timeout(REFRESH_ACK_TIMEOUT_MS).emit('refresh', (err: Error | null, ack: RefreshAck) => {
          if (destroyed) return;
          dispatch({ type: 'refresh-answered', answer: err !== null ? 'timeout' : ack });
        });
        return;
      case 'retry-later': {
        clearTimeout(retryTimer);
        const delay = effect.delayMs * (0.75 + Math.random() / 2);
        retryTimer = setTimeout(() => {
          if (!destroyed && !socket.connected && !socket.active) socket.connect();
        }, delay);
        return;
      }
      case 'cancel-retry':
        clearTimeout(retryTimer);
        return;
      case 'exchange':
        void exchange(effect.code, effect.secret, effect.user);
        return;
      case 'disconnect':
        socket.disconnect();
        return;
    }
  }

  const isVisible = (): boolean => typeof document === 'undefined' || document.visibilityState !== 'hidden';

  socket.on('connect', () => dispatch({ type: 'connected', socket: socket.id }));
  socket.on('ticket', (payload) => dispatch({ type: 'ticket', payload, socket: socket.id }));
  socket.on('status', (payload) => dispatch({ type: 'status', payload, visible: isVisible() }));
  socket.on('login', (payload) => dispatch({ type: 'login', payload }));
  socket.on('disconnect', (reason) => {
    if (!destroyed) dispatch({ type: 'disconnected', reason });
  });
  socket.on('connect_error', (err: Error & { data?: { code?: ErrorCode }; context?: { responseText?: unknown } }) => {
    if (destroyed) return;
    // Refused before a session existed (a foreign Origin, too many connections): the code is in the body
    // of the polling request's 403, readable only now (the transport aborts the request right after).
    const refused = refusalCode(readResponseText(err.context));
    const code = err.data?.code ?? refused;
    const message = refused !== undefined ? errorMessage(refused) : err.message;
    // Socket.IO would keep retrying a refused transport by itself: stop it, as a refused handshake stops it.
    if (refused !== undefined) socket.disconnect();
    dispatch({ type: 'connect-error', code, message, active: socket.active, visible: isVisible() });
  });

  async function exchange(code: string, secret: string, user: LoginUser): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let res: Response | undefined;
      let failure: unknown;
      try {
        res = await fetch(options.exchangeUrl ?? `${base}${SESSION_ROUTE}`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ code, secret }),
          signal: AbortSignal.timeout(EXCHANGE_ATTEMPT_TIMEOUT_MS),
        });
      } catch (err) {
        failure = err;
      }
      if (destroyed) return;
      // No gateway finished the request (a network error, or the load balancer's 502/503/504): another may.
      const delay = exchangeRetryable(res?.status ?? null) ? exchangeRetryDelayMs(attempt) : null;
      if (delay !== null) {
        await res?.arrayBuffer().catch(() => undefined);
        await new Promise((r) => setTimeout(r, delay));
        if (destroyed) return;
        continue;
      }
      if (res === undefined) {
        return dispatch({
          type: 'exchange-failed',
          error: { code: 'NETWORK', message: failure instanceof Error ? failure.message : String(failure) },
        });
      }
      const body = (await res.json().catch(() => ({}))) as Partial<SessionResponse & ErrorResponse & { redirectTo: string }>;
      const token = typeof body.token === 'string' ? body.token : undefined;
      const redirectTo = typeof body.redirectTo === 'string' ? body.redirectTo : undefined;
      if (!res.ok || typeof body.openid !== 'string' || (token === undefined && redirectTo === undefined)) {
        return dispatch({ type: 'exchange-failed', error: { code: asErrorCode(body.code), message: body.error ?? `HTTP ${res.status}` } });
      }
      dispatch({ type: 'signed-in', openid: body.openid, user });
      const result: QrLoginResult = {
        openid: body.openid,
        ...(token !== undefined ? { token } : {}),
        ...(redirectTo !== undefined ? { redirectTo } : {}),
        user,
      };
      call(() => options.onLogin?.(result));
      return;
    }
  }

  const start = (): void => {
    if (started || destroyed) return;
    started = true;
    socket.connect();
  };
  const onVisibilityChange = (): void => {
    if (!isVisible()) return;
    if (started) dispatch({ type: 'visible', connected: socket.connected });
    else start();
  };
  // Coming back online: reconnect now instead of waiting out Socket.IO's backoff.
  const onOnline = (): void => {
    if (destroyed || !started || socket.connected || model.phase === 'signed-in') return;
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
      if (destroyed) return;
      dispatch({ type: 'refresh-clicked', connected: socket.connected });
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
  if (isVisible()) start();
  return handle;
}

/** The response text of a failed polling request, when the browser lets this page read it. */
function readResponseText(context: { responseText?: unknown } | undefined): unknown {
  try {
    return context?.responseText;
  } catch {
    // An aborted XMLHttpRequest may throw on access: nothing to read then.
    return undefined;
  }
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
