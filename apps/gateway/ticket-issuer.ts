/**
 * Issuing a ticket: a fresh id and secret, a WeChat QR code whose scene is the id, stored as `pending` by
 * `login.issue()`. A failure says whose it was (WeChat's or the store's), so the browser is told the real cause.
 * Only the QR content is stored; its image is drawn when the `ticket` event is sent (`qr-image.ts`).
 */
import type { LoginService } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import type { TicketPayload } from '../../libs/protocol/index.js';
import { qrImageUrl } from './qr-image.js';
import { newSecret, newTicketId, type BrowserContext, type Ticket, type TicketQr } from '../../libs/ticket/index.js';

/** The part of the WeChat client the gateway needs. */
export interface QrCodeIssuer {
  /** The Official Account whose codes these are; each ticket is bound to it. */
  readonly appId: string;
  createQrCode(sceneStr: string, expireSeconds: number): Promise<{ ticket: string; url: string; imageUrl: string }>;
}

/** Why no ticket could be issued: WeChat gave no QR code, or the store would not keep the ticket. */
export type IssueRefusal = 'wechat_unavailable' | 'store_unavailable';

export interface TicketIssuer {
  /**
   * Create a pending ticket for a browser, under `id` (default: a fresh one); returns what the browser is
   * sent, or why it could not be made.
   */
  issue(
    browser: BrowserContext,
    id?: string,
  ): Promise<{ ok: true; ticket: Ticket; payload: TicketPayload } | { ok: false; reason: IssueRefusal }>;
}

/**
 * The `ticket` payload of a stored ticket, given the browser's secret. The image is drawn here, as an SVG
 * `data:` URL (so the page never depends on reaching WeChat's image host), and dropped once sent.
 */
export const ticketPayload = (ticket: Pick<Ticket, 'id' | 'qr' | 'expiresAt'>, secret: string): TicketPayload => ({
  ticket: ticket.id,
  secret,
  qrUrl: ticket.qr.url,
  qrImage: qrImageUrl(ticket.qr.url),
  expiresAt: ticket.expiresAt,
});

export function createTicketIssuer(deps: { login: LoginService; wechat: QrCodeIssuer; logger: Logger; ttlSeconds: number }): TicketIssuer {
  return {
    async issue(browser, id = newTicketId()) {
      const secret = newSecret();
      let qr: TicketQr;
      try {
        const issued = await deps.wechat.createQrCode(id, deps.ttlSeconds);
        qr = { url: issued.url, wechatTicket: issued.ticket, appId: deps.wechat.appId };
      } catch (err) {
        deps.logger.error({ err }, 'could not create a WeChat QR code');
        return { ok: false, reason: 'wechat_unavailable' };
      }
      const stored = await deps.login.issue({ id, secret, qr, browser, ttlSeconds: deps.ttlSeconds });
      if (!stored.ok) return { ok: false, reason: stored.reason };
      return { ok: true, ticket: stored.ticket, payload: ticketPayload(stored.ticket, secret) };
    },
  };
}
