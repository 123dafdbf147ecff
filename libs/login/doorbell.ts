/**
 * The doorbell: the one policy for telling the other processes that a ticket changed. The ticket is written
 * first (the store is the truth), then its doorbell is rung a few times if the transport fails. A ring that
 * never gets through does not undo the write: the caller decides how to make it good (WeChat's re-send, the
 * scanner opening the link again, the browser reading the store when it reconnects).
 */
import type { TicketEventBus } from '../engine/index.js';
import type { Logger } from '../observability/index.js';
import { ticketLogId, type Ticket } from '../ticket/index.js';

/** Tries of one ring, and the pause before the next try (times the try number), ms. */
export const RING_ATTEMPTS = 3;
export const RING_BACKOFF_MS = 100;

export interface Doorbell {
  /**
   * Ring the ticket's doorbell for its current version. True once a try got through; false when every try
   * failed (logged as an error). Never rejects. Ringing twice for one version is harmless: gateways deliver
   * each version once.
   */
  ring(ticket: Ticket): Promise<boolean>;
}

export function createDoorbell(deps: { events: TicketEventBus; logger: Logger; backoffMs?: number }): Doorbell {
  const backoffMs = deps.backoffMs ?? RING_BACKOFF_MS;
  return {
    async ring(ticket) {
      for (let attempt = 1; ; attempt++) {
        try {
          await deps.events.publish({ ticket: ticket.id, version: ticket.version });
          return true;
        } catch (err) {
          const log = { err, ticket: ticketLogId(ticket.id), attempt };
          if (attempt >= RING_ATTEMPTS) {
            deps.logger.error(log, 'could not ring the doorbell of a changed ticket');
            return false;
          }
          deps.logger.warn(log, 'ringing the doorbell failed; trying again');
          await new Promise((resolve) => setTimeout(resolve, backoffMs * attempt));
        }
      }
    },
  };
}
