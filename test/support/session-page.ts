/**
 * A signed-in page as the gateway sees it: a Socket.IO client on `/session` (auth `{ token }` or the session
 * cookie) that records `session_ended`, `session_started` and how it was disconnected.
 */
import { io, type Socket } from 'socket.io-client';
import {
  SESSION_NAMESPACE,
  type SessionClientToServerEvents,
  type SessionEndedPayload,
  type SessionServerToClientEvents,
  type SessionStartedPayload,
} from '../../libs/protocol/index.js';
import { ConnectError } from './login-browser.js';

export class SessionPage {
  readonly ended: SessionEndedPayload[] = [];
  /** When each `session_ended` arrived (epoch ms), to report how long a sign-out took to reach the page. */
  readonly endedAt: number[] = [];
  readonly started: SessionStartedPayload[] = [];
  disconnectReason: string | undefined;

  private constructor(readonly socket: Socket<SessionServerToClientEvents, SessionClientToServerEvents>) {
    socket.on('session_ended', (payload) => {
      this.ended.push(payload);
      this.endedAt.push(Date.now());
    });
    socket.on('session_started', (payload) => this.started.push(payload));
    socket.on('disconnect', (reason) => {
      this.disconnectReason = reason;
    });
  }

  /** Connect and wait until admitted (or reject with the connect_error's code). */
  static async open(baseUrl: string, how: { token?: string; cookie?: string; auth?: unknown }): Promise<SessionPage> {
    const socket: Socket<SessionServerToClientEvents, SessionClientToServerEvents> = io(`${baseUrl}${SESSION_NAMESPACE}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      // Its own timers stay real when a test fakes the clock (the in-process gateway harness).
      useNativeTimers: true,
      auth: (how.auth ?? (how.token !== undefined ? { token: how.token } : {})) as Record<string, unknown>,
      ...(how.cookie !== undefined ? { extraHeaders: { cookie: how.cookie } } : {}),
    });
    const page = new SessionPage(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (err: Error & { data?: { code?: string } }) => {
        socket.close();
        reject(new ConnectError(err.message, err.data?.code));
      });
    });
    return page;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Poll until `done()` holds; throws after `timeoutMs` (generous: this is about delivery, not speed). */
  async until(done: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.socket.close();
  }
}
