/**
 * Prometheus metrics. One registry per process; every app serves it at `GET /metrics`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly ticketsCreated: Counter;
  readonly ticketsScanned: Counter;
  readonly ticketsConfirmed: Counter;
  readonly ticketsConsumed: Counter;
  readonly ticketsExpired: Counter;
  readonly ticketsCancelled: Counter;
  readonly scanToLogin: Histogram;
  readonly socketsConnected: Gauge;
  readonly socketConnectionsOpen: Gauge;
  readonly socketConnectionsBusy: Counter;
  readonly wechatQrBudgetRemaining: Gauge;
  readonly wechatQrBudgetCapacity: Gauge;
  /** Where a scrape reads the fleet's QR budget from (the gateway installs it; elsewhere the gauges stay 0). */
  readQrBudgetFrom(source: () => Promise<number>): void;
  readonly busMessagesReceived: Counter;
  readonly webhookRequests: Counter<'outcome'>;
  readonly wechatApiCalls: Counter<'endpoint' | 'result'>;
  /** Writes refused because no Redis Cluster replica acknowledged them in time, by the use case that wrote. */
  readonly replicaUnconfirmed: Counter<'operation'>;
}

/** The `operation` label of `qrgate_replica_unconfirmed_total`: a WeChat scan, or a decision on the confirmation page. */
export type ReplicaUnconfirmedOperation = 'scan' | 'decide';

/** Create the registry with default process metrics and qrgate's own. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  let qrBudgetSource: (() => Promise<number>) | undefined;
  const counter = <L extends string = never>(name: string, help: string, labelNames: L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    ticketsCreated: counter('qrgate_tickets_created_total', 'Tickets created (QR codes shown).'),
    ticketsScanned: counter('qrgate_tickets_scanned_total', 'Tickets scanned in WeChat.'),
    ticketsConfirmed: counter('qrgate_tickets_confirmed_total', 'Tickets confirmed (login granted).'),
    ticketsConsumed: counter('qrgate_tickets_consumed_total', 'Login codes redeemed for a session.'),
    ticketsExpired: counter('qrgate_tickets_expired_total', 'Tickets that expired before confirmation.'),
    ticketsCancelled: counter('qrgate_tickets_cancelled_total', 'Tickets the scanner refused ("not me").'),
    scanToLogin: new Histogram({
      name: 'qrgate_scan_to_login_seconds',
      help: 'Time from the scan in WeChat to the redeemed session (includes confirming on the phone in tap mode).',
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300],
      registers: [registry],
    }),
    socketsConnected: new Gauge({
      name: 'qrgate_sockets_connected',
      help: 'Browser sockets connected to this gateway.',
      registers: [registry],
    }),
    socketConnectionsOpen: new Gauge({
      name: 'qrgate_socket_connections_open',
      help: 'Engine.io connections open on this gateway, whatever namespace they asked for (or none yet).',
      registers: [registry],
    }),
    socketConnectionsBusy: new Counter({
      name: 'qrgate_socket_connections_busy_total',
      help: 'New engine.io connections refused with GATEWAY_BUSY: MAX_HANDSHAKES_IN_FLIGHT joins were already in progress.',
      registers: [registry],
    }),
    wechatQrBudgetRemaining: new Gauge({
      name: 'qrgate_wechat_qr_budget_remaining',
      help: "QR codes the fleet may still create right now (WECHAT_QR_DAILY_QUOTA's bucket); gateways only.",
      registers: [registry],
      async collect() {
        if (qrBudgetSource === undefined) return;
        // A store that does not answer must not fail the whole scrape: the last value stays.
        try {
          this.set(await qrBudgetSource());
        } catch {
          return;
        }
      },
    }),
    wechatQrBudgetCapacity: new Gauge({
      name: 'qrgate_wechat_qr_budget_capacity',
      help: 'Size of the QR bucket (the burst the fleet may spend at once); gateways only.',
      registers: [registry],
    }),
    readQrBudgetFrom(source) {
      qrBudgetSource = source;
    },
    busMessagesReceived: counter(
      'qrgate_bus_messages_received_total',
      'Ticket-change messages this process received from the cross-process bus.',
    ),
    webhookRequests: counter('qrgate_webhook_requests_total', 'WeChat push requests by outcome.', ['outcome']),
    wechatApiCalls: counter('qrgate_wechat_api_calls_total', 'Calls to the WeChat API by endpoint and result.', ['endpoint', 'result']),
    replicaUnconfirmed: counter(
      'qrgate_replica_unconfirmed_total',
      'Ticket writes refused because no Redis Cluster replica acknowledged them within REDIS_REPLICA_ACK_TIMEOUT_MS (answered 503), by operation (scan: a WeChat scan, decide: a tap on the confirmation page).',
      ['operation'],
    ),
  };
}
