/**
 * The gateway in process, on a clock the test moves: `createGateway` (apps/gateway) over the memory engine,
 * served on 127.0.0.1 with real Socket.IO browsers, and vitest fake timers (`setTimeout`, `setInterval`) whose
 * clock is the `now` injected into the engine and the gateway, so expiry and refresh are tested without
 * waiting out real TTLs. The only stand-in is WeChat itself (`FakeWechat`, the gateway's `QrCodeIssuer`
 * port), which a test can hold, fail and count.
 *
 * What stays on real time, and why: `Date` and `setImmediate` (the memory bus rings with it, socket I/O needs
 * the event loop), Socket.IO's heartbeat on both ends (engine.io takes its timers from `node:timers`, and the
 * harness's browsers use `useNativeTimers`), so moving the clock never times a connection out.
 */
import { vi } from 'vitest';
import { pino } from 'pino';
import {
  createGateway,
  createSessionSigner,
  gatewaySettings,
  type Gateway,
  type GatewaySettings,
  type QrCodeIssuer,
} from '../../apps/gateway/index.js';
import { loadConfig } from '../../libs/config/index.js';
import { createMemoryEngine, type Engine } from '../../libs/engine/index.js';
import { createMetrics, type Metrics } from '../../libs/observability/index.js';
import { APP_ID } from './fixtures.js';
import { serve } from './http.js';
import { logSink } from './log-sink.js';
import { LoginBrowser, type BrowserOptions } from './login-browser.js';

/** The fake clock starts here (2026-01-01T00:00:00Z), so times in a failing test read plainly. */
export const START = Date.UTC(2026, 0, 1);

/** Longest single jump of the fake clock inside `advance`, so timers due in one jump still fire in order. */
const SLICE_MS = 5_000;

/** Let pending I/O (socket frames, the memory bus's setImmediate rings) run: a few real event-loop turns. */
export async function ioTurns(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** WeChat's `qrcode/create` as the gateway sees it, under the test's control. */
export class FakeWechat implements QrCodeIssuer {
  readonly appId = APP_ID;
  readonly calls: Array<{ sceneStr: string; expireSeconds: number }> = [];
  private held: Array<() => void> | undefined;
  private failures = 0;
  private callWaiters: Array<{ count: number; resolve: () => void }> = [];

  async createQrCode(sceneStr: string, expireSeconds: number): Promise<{ ticket: string; url: string; imageUrl: string }> {
    this.calls.push({ sceneStr, expireSeconds });
    for (const waiter of this.callWaiters.filter((w) => this.calls.length >= w.count)) waiter.resolve();
    this.callWaiters = this.callWaiters.filter((w) => this.calls.length < w.count);
    if (this.held !== undefined) await new Promise<void>((resolve) => this.held?.push(resolve));
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error('injected: WeChat API unavailable');
    }
    const ticket = `gQ-fake-${sceneStr}`;
    return {
      ticket,
      url: `http://weixin.qq.com/q/${sceneStr}`,
      imageUrl: `https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=${encodeURIComponent(ticket)}`,
    };
  }

  /** Keep every answer from now on until `release()`: a WeChat that is slow to answer. */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const resume of held) resume();
  }

  /** Fail the next `count` calls, as an outage of WeChat's API would. */
  failNext(count: number): void {
    this.failures += count;
  }

  /** Resolves once `count` calls have arrived in all. */
  calledTimes(count: number): Promise<void> {
    if (this.calls.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.callWaiters.push({ count, resolve }));
  }
}

export interface GatewayHarness {
  readonly url: string;
  readonly gateway: Gateway;
  readonly engine: Engine;
  readonly metrics: Metrics;
  readonly settings: GatewaySettings;
  readonly wechat: FakeWechat;
  /** The injected clock: the fake timers' time. */
  now(): number;
  /** Move the clock by `ms`, firing the timers that fall due, with socket I/O running between slices. */
  advance(ms: number): Promise<void>;
  /** A browser on `/login` with a fresh ticket (or the one in `options.resume`); closed by `close()`. */
  open(options?: BrowserOptions): Promise<LoginBrowser>;
  /** Every log line so far (level debug). */
  logs(): string;
  /** Resolves once the logs contain `text`. */
  logged(text: string): Promise<void>;
  /** Close browsers, gateway, server and engine, and give the test its real timers back. */
  close(): Promise<void>;
}

/**
 * Start a gateway on fake timers. `env` is libs/config's environment (e.g. `TICKET_TTL_SECONDS`), in `scan`
 * confirmation mode unless it says otherwise.
 */
export async function startGateway(
  env: Record<string, string> = {},
  options: { prepareEngine?(engine: ReturnType<typeof createMemoryEngine>): void } = {},
): Promise<GatewayHarness> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'], now: START });
  const now = (): number => {
    const mocked = vi.getMockedSystemTime();
    if (mocked === null) throw new Error('the gateway harness was used after close()');
    return mocked.getTime();
  };
  const config = loadConfig({ LOGIN_CONFIRMATION: 'scan', LOG_LEVEL: 'debug', ...env });
  const settings = gatewaySettings(config);
  const engine = createMemoryEngine({ now });
  options.prepareEngine?.(engine);
  const metrics = createMetrics({ defaultMetrics: false });
  const sink = logSink();
  const logger = pino({ level: 'debug' }, sink.stream);
  const wechat = new FakeWechat();
  const signer = await createSessionSigner({ issuer: 'http://127.0.0.1', ttlSeconds: settings.sessionTtlSeconds });
  const gateway = createGateway({ engine, wechat, settings, signer, logger, metrics, now });
  const server = await serve(gateway.app.callback());
  gateway.attach(server.server);
  const browsers: LoginBrowser[] = [];

  return {
    url: server.url,
    gateway,
    engine,
    metrics,
    settings,
    wechat,
    now,
    async advance(ms) {
      for (let left = ms; left > 0; left -= SLICE_MS) {
        await vi.advanceTimersByTimeAsync(Math.min(left, SLICE_MS));
        await ioTurns();
      }
    },
    async open(options = {}) {
      const browser = await LoginBrowser.open(server.url, { useNativeTimers: true, ...options });
      browsers.push(browser);
      return browser;
    },
    logs: () => sink.text(),
    async logged(text) {
      while (!sink.text().includes(text)) await ioTurns(1);
    },
    async close() {
      try {
        for (const browser of browsers) browser.close();
        await gateway.close();
        await server.close();
        await engine.close();
      } finally {
        vi.useRealTimers();
      }
    },
  };
}
