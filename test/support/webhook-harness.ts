/**
 * A webhook on 127.0.0.1 over the memory engine, real pending tickets, and WeChat pushes signed (and in safe
 * mode encrypted) exactly as WeChat does.
 */
import { pino } from 'pino';
import { createWebhook, type WebhookSettings } from '../../apps/webhook/index.js';
import { createMemoryEngine, type Engine } from '../../libs/engine/index.js';
import { createMetrics, type Metrics } from '../../libs/observability/index.js';
import { newSecret, newTicket, newTicketId, type Ticket, type TicketStatus } from '../../libs/ticket/index.js';
import { buildEventXml, signPush, type PushSigningOptions, type ScanEventInput } from '../../libs/wechat/index.js';
import { AES_KEY, APP_ID, BROWSER_IP, CHROME_ON_WINDOWS, OA_ID, TOKEN } from './fixtures.js';
import { fetchText, serve, type HttpText } from './http.js';
import { logSink } from './log-sink.js';

/** A webhook's answer. */
export type Reply = HttpText;

export interface Harness {
  readonly url: string;
  readonly engine: Engine;
  readonly metrics: Metrics;
  readonly settings: WebhookSettings;
  /** Every log line written so far. */
  logs(): string;
  /** Advance the shared clock of the engine and the webhook. */
  advance(ms: number): void;
  now(): number;
  /** A pending ticket in the store, shown with WeChat QR ticket `wechatTicket`. */
  createTicket(options?: { ttlSeconds?: number; userAgent?: string; ip?: string }): Promise<Ticket>;
  /**
   * What a gateway learns from each doorbell of one ticket: the version rung, with the status the store then
   * holds (the bus carries no status; a watcher reads it, as the gateway's hub does).
   */
  watch(ticketId: string): Promise<WatchedChange[]>;
  /** POST a raw body with a raw query string. */
  post(query: string, body: string): Promise<Reply>;
  /** Sign (and encrypt with `aes`) a message as WeChat does, then POST it. */
  push(xml: string, options?: Partial<PushSigningOptions>): Promise<Reply>;
  get(pathAndQuery: string): Promise<Reply>;
  close(): Promise<void>;
}

/** A scan event for a ticket: `subscribe` with `qrscene_` or a bare `SCAN`. */
export function scanEvent(ticket: Ticket, input: { openid: string; event?: 'subscribe' | 'SCAN'; createTime?: number }): string {
  const event = input.event ?? 'SCAN';
  const fields: ScanEventInput = {
    toUserName: OA_ID,
    fromUserName: input.openid,
    createTime: input.createTime ?? Math.floor(Date.now() / 1000),
    event,
    eventKey: event === 'subscribe' ? `qrscene_${ticket.id}` : ticket.id,
    ticket: ticket.qr.wechatTicket,
  };
  return buildEventXml(fields);
}

/** WeChat's safe-mode signing options for `key`. */
export const aes = (key = AES_KEY, appId = APP_ID): Partial<PushSigningOptions> => ({ aes: { encodingAesKey: key, appId } });

/** How the harness builds the webhook. */
export interface HarnessOptions {
  /** Wraps the real engine the webhook gets (fault injection); the harness itself keeps the real one. */
  engine?: (real: Engine) => Engine;
  /** The webhook's reply deadline, ms. Default: the product's. */
  replyDeadlineMs?: number;
}

export async function startWebhook(overrides: Partial<WebhookSettings> = {}, options: HarnessOptions = {}): Promise<Harness> {
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const engine = createMemoryEngine({ now });
  const metrics = createMetrics({ defaultMetrics: false });
  const sink = logSink();
  const logger = pino({ level: 'info' }, sink.stream);
  const settings: WebhookSettings = {
    token: TOKEN,
    appId: APP_ID,
    requireEncryption: false,
    maxSkewSeconds: 300,
    confirmation: 'scan',
    ...overrides,
  };
  const webhookEngine = options.engine?.(engine) ?? engine;
  const webhook = createWebhook({
    engine: webhookEngine,
    config: settings,
    logger,
    metrics,
    now,
    ...(options.replyDeadlineMs !== undefined ? { replyDeadlineMs: options.replyDeadlineMs } : {}),
  });
  const server = await serve(webhook.callback());
  const url = server.url;
  const unsubscribes: Array<() => Promise<void>> = [];
  const watched = new Map<string, WatchedChange[]>();
  unsubscribes.push(async () => stopRings());
  const stopRings = engine.events.onRing((change) => {
    const changes = watched.get(change.ticket);
    if (changes === undefined) return;
    void engine.tickets.get(change.ticket).then((ticket) => {
      changes.push({ ticket: change.ticket, status: ticket?.status ?? 'gone', version: change.version });
    });
  });

  const request = (path: string, init?: RequestInit): Promise<Reply> => fetchText(`${url}${path}`, init);
  const post = (query: string, body: string): Promise<Reply> =>
    request(`/wechat?${query}`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });

  return {
    url,
    engine,
    metrics,
    settings,
    logs: () => sink.text(),
    advance: (ms) => {
      offset += ms;
    },
    now,
    createTicket: (options = {}) => createPendingTicket(engine, { ...options, now: now() }),
    async watch(ticketId) {
      const changes: WatchedChange[] = [];
      watched.set(ticketId, changes);
      await engine.events.subscribe(ticketId);
      unsubscribes.push(() => engine.events.unsubscribe(ticketId));
      return changes;
    },
    post,
    push(xml, options = {}) {
      const signed = signPush(xml, { token: TOKEN, timestamp: Math.floor(now() / 1000), ...options });
      return post(signed.query, signed.body);
    },
    get: (path) => request(path),
    async close() {
      for (const unsubscribe of unsubscribes) await unsubscribe();
      await server.close();
      await engine.close();
    },
  };
}

/** One doorbell as a watcher sees it: the version rung and the status then in the store (`gone`: not there). */
export interface WatchedChange {
  ticket: string;
  status: TicketStatus | 'gone';
  version: number;
}

/** The value of `qrgate_webhook_requests_total{outcome}`. */
export async function outcomeCount(metrics: Metrics, outcome: string): Promise<number> {
  const metric = await metrics.webhookRequests.get();
  return metric.values.find((v) => v.labels['outcome'] === outcome)?.value ?? 0;
}

/**
 * `real` whose bus rejects the first `publishFailures` publishes as a broken transport would, and whose counter
 * rejects the first `incrementFailures` increments; everything else is the real engine.
 */
export function flakyEngine(real: Engine, faults: { publishFailures?: number; incrementFailures?: number }): Engine {
  let publishFailures = faults.publishFailures ?? 0;
  let incrementFailures = faults.incrementFailures ?? 0;
  // Spread, not listed: the wrapper stays the real engine in everything but the two injected faults.
  return {
    ...real,
    kv: {
      ...real.kv,
      increment: (key, ttlMs) =>
        incrementFailures-- > 0 ? Promise.reject(new Error('injected: counter unavailable')) : real.kv.increment(key, ttlMs),
    },
    events: {
      ...real.events,
      publish: (change) => (publishFailures-- > 0 ? Promise.reject(new Error('injected: bus unavailable')) : real.events.publish(change)),
    },
  };
}

/** Let bus deliveries that are already on their way arrive. */
/** A pending ticket of the test account, stored in `engine`, as a gateway would have issued it. */
export async function createPendingTicket(
  engine: Engine,
  options: { userAgent?: string; ip?: string; ttlSeconds?: number; now?: number } = {},
): Promise<Ticket> {
  const id = newTicketId();
  const ticket = newTicket({
    id,
    secret: newSecret(),
    qr: { url: `http://weixin.qq.com/q/${id}`, wechatTicket: `gQ-test-${id}`, appId: APP_ID },
    browser: { userAgent: options.userAgent ?? CHROME_ON_WINDOWS, ip: options.ip ?? BROWSER_IP },
    now: options.now ?? Date.now(),
    ttlSeconds: options.ttlSeconds ?? 120,
  });
  await engine.tickets.create(ticket);
  return ticket;
}

export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));
