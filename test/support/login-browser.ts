/**
 * A browser as far as the gateway can tell: a Socket.IO client on `/login` that records every event, can
 * resume its ticket after a disconnect, and redeems its login code over HTTP.
 */
import { io, type Socket } from 'socket.io-client';
import { refusalCode } from '../../libs/protocol/index.js';
import type {
  ClientToServerEvents,
  LoginPayload,
  RefreshAck,
  ServerToClientEvents,
  SessionResponse,
  StatusPayload,
  TicketPayload,
} from '../../libs/protocol/index.js';

interface PayloadOf {
  ticket: TicketPayload;
  status: StatusPayload;
  login: LoginPayload;
}

type Recorded =
  | { type: 'ticket'; payload: TicketPayload }
  | { type: 'status'; payload: StatusPayload }
  | { type: 'login'; payload: LoginPayload };

export interface BrowserOptions {
  transports?: ('websocket' | 'polling')[];
  /** Keep a load balancer's sticky cookie (Node's client needs this to send cookies). */
  withCredentials?: boolean;
  extraHeaders?: Record<string, string>;
  /**
   * Resume this ticket instead of asking for a new one (`version`: the last one received; `replaces`: the
   * socket this one replaces; see HandshakeAuth).
   */
  resume?: { ticket: string; secret: string; version?: number; replaces?: string };
  /** Let Socket.IO reconnect by itself (and resume, since auth follows the current ticket). */
  reconnection?: boolean;
  /** Keep the client's own timers (heartbeat, connect timeout) on real time while a test fakes the timers. */
  useNativeTimers?: boolean;
}

export class ConnectError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

export class LoginBrowser {
  readonly events: Recorded[] = [];
  current: TicketPayload | undefined;
  private waiters: Array<() => void> = [];
  private constructor(
    readonly baseUrl: string,
    readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>,
  ) {
    socket.on('ticket', (payload) => {
      this.current = payload;
      this.record({ type: 'ticket', payload });
    });
    socket.on('status', (payload) => this.record({ type: 'status', payload }));
    socket.on('login', (payload) => this.record({ type: 'login', payload }));
  }

  /** Connect and wait for the first `ticket` event (or reject with the connect_error). */
  static async open(baseUrl: string, options: BrowserOptions = {}): Promise<LoginBrowser> {
    let resume = options.resume;
    let browser: LoginBrowser | undefined;
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`${baseUrl}/login`, {
      transports: options.transports ?? ['websocket'],
      forceNew: true,
      reconnection: options.reconnection ?? false,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
      withCredentials: options.withCredentials ?? false,
      useNativeTimers: options.useNativeTimers ?? false,
      ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
      // Evaluated on every (re)connection: always resume the ticket we hold.
      auth: (cb) => {
        const current = browser?.current ?? undefined;
        const auth = current ? { ticket: current.ticket, secret: current.secret } : resume;
        cb(auth ?? {});
      },
    });
    browser = new LoginBrowser(baseUrl, socket);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { data?: { code?: string }; context?: { responseText?: unknown } }) => {
        if (options.reconnection) return;
        socket.close();
        // A refusal before the session exists (allowRequest) names its code in the polling 403's body.
        reject(new ConnectError(err.message, err.data?.code ?? refusalCode(err.context?.responseText)));
      };
      socket.once('connect_error', onError);
      socket.once('ticket', () => {
        socket.off('connect_error', onError);
        resolve();
      });
    });
    resume = undefined;
    return browser;
  }

  get ticket(): TicketPayload {
    if (this.current === undefined) throw new Error('no ticket yet');
    return this.current;
  }

  logins(): LoginPayload[] {
    return this.events.filter((e): e is Extract<Recorded, { type: 'login' }> => e.type === 'login').map((e) => e.payload);
  }

  statuses(): string[] {
    return this.events.filter((e): e is Extract<Recorded, { type: 'status' }> => e.type === 'status').map((e) => e.payload.status);
  }

  /** Wait until an event of `type` (matching `predicate`) has been recorded. */
  async waitFor<T extends keyof PayloadOf>(
    type: T,
    predicate: (payload: PayloadOf[T]) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<PayloadOf[T]> {
    const find = (): PayloadOf[T] | undefined =>
      this.events.find((e) => e.type === type && predicate(e.payload as PayloadOf[T]))?.payload as PayloadOf[T] | undefined;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.events.map((e) => (e.type === 'status' ? `status:${e.payload.status}` : e.type));
        throw new Error(`timed out waiting for ${type}; got ${JSON.stringify(seen)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  refresh(): Promise<RefreshAck> {
    return new Promise((resolve) => this.socket.emit('refresh', resolve));
  }

  /** POST /api/session; returns status and body. */
  async exchange(
    code: string,
    secret = this.ticket.secret,
    headers: Record<string, string> = {},
  ): Promise<{
    status: number;
    body: SessionResponse & { error?: string };
    setCookie: string | null;
  }> {
    const res = await fetch(`${this.baseUrl}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ code, secret }),
    });
    return {
      status: res.status,
      body: (await res.json()) as SessionResponse & { error?: string },
      setCookie: res.headers.get('set-cookie'),
    };
  }

  close(): void {
    this.socket.close();
  }

  private record(event: Recorded): void {
    this.events.push(event);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/**
 * Wait until every browser holds a `login`, give a duplicate delivery a moment to show up, and return the
 * browsers that did not get exactly one login for their own ticket (empty when all is well).
 */
export async function browsersWithoutExactlyOneLogin(browsers: readonly LoginBrowser[], timeoutMs = 30_000): Promise<LoginBrowser[]> {
  await Promise.all(browsers.map((browser) => browser.waitFor('login', undefined, timeoutMs)));
  // A duplicate delivery would arrive within moments of the first one.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return browsers.filter((b) => b.logins().length !== 1 || b.logins()[0]?.ticket !== b.ticket.ticket);
}
