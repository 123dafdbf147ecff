/**
 * Issuing a ticket: a fresh id and secret, a WeChat QR code whose scene is the id, stored as `pending`.
 */
import QRCode from 'qrcode';
import type { Engine } from '../../libs/engine/index.js';
import type { Metrics } from '../../libs/observability/index.js';
import type { TicketPayload } from '../../libs/protocol/index.js';
import { newSecret, newTicket, newTicketId, type BrowserContext, type Ticket } from '../../libs/ticket/index.js';

/** The part of the WeChat client the gateway needs. */
export interface QrCodeIssuer {
  createQrCode(sceneStr: string, expireSeconds: number): Promise<{ ticket: string; url: string; imageUrl: string }>;
}

export interface TicketIssuer {
  /** Create a pending ticket for a browser; returns what the browser is sent. */
  issue(browser: BrowserContext): Promise<{ ticket: Ticket; payload: TicketPayload }>;
}

/** The `ticket` payload of a stored ticket, given the browser's secret. */
export const ticketPayload = (ticket: Ticket, secret: string): TicketPayload => ({
  ticket: ticket.id,
  secret,
  qrUrl: ticket.qr.url,
  qrImage: ticket.qr.image,
  expiresAt: ticket.expiresAt,
});

export function createTicketIssuer(deps: {
  engine: Engine;
  wechat: QrCodeIssuer;
  metrics: Metrics;
  ttlSeconds: number;
  now?: () => number;
}): TicketIssuer {
  const now = deps.now ?? Date.now;
  return {
    async issue(browser) {
      const id = newTicketId();
      const secret = newSecret();
      const qr = await deps.wechat.createQrCode(id, deps.ttlSeconds);
      // Drawn here as a data: URL so the page never depends on reaching WeChat's image host.
      const image = await QRCode.toDataURL(qr.url, { errorCorrectionLevel: 'M', margin: 2, width: 280 });
      const ticket = newTicket({
        id,
        secret,
        qr: { url: qr.url, image, wechatTicket: qr.ticket },
        browser,
        now: now(),
        ttlSeconds: deps.ttlSeconds,
      });
      await deps.engine.tickets.create(ticket);
      deps.metrics.ticketsCreated.inc();
      return { ticket, payload: ticketPayload(ticket, secret) };
    },
  };
}
