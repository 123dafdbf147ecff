/**
 * Which sockets hold a ticket, fleet-wide: at most {@link MAX_SOCKETS_PER_TICKET} at a time, through the
 * engine's leases, so one ticket (whose secret the page holds anyway) cannot be resumed by a crowd of
 * sockets spread over every gateway. Two, not one: a browser that reconnects after a network blip holds a
 * new socket while the gateway has not yet noticed the old one is dead. This gateway renews the leases of its
 * own sockets; a gateway that dies stops renewing, and its places lapse after {@link LEASE_TTL_MS}.
 */
import type { Engine } from '../../libs/engine/index.js';

/** Sockets allowed on one ticket across the fleet. */
export const MAX_SOCKETS_PER_TICKET = 2;
/** How long a place is held without renewal: how long a dead gateway's sockets still count. */
export const LEASE_TTL_MS = 60_000;
/** Renewal period: three renewals per TTL, so one failed write does not lose a place. */
const RENEW_EVERY_MS = LEASE_TTL_MS / 3;

export interface TicketHolders {
  /** Take (or keep) `holder`'s place on `ticketId`; false when the ticket already has its sockets. */
  hold(ticketId: string, holder: string): Promise<boolean>;
  /** Give the place back (the socket left or moved to another ticket). */
  release(ticketId: string, holder: string): Promise<void>;
  /** Stop renewing (the gateway closes). */
  close(): void;
}

const keyOf = (ticketId: string): string => `ticket-sockets:${ticketId}`;

export function createTicketHolders(deps: { engine: Engine; onError(err: unknown): void }): TicketHolders {
  /** This gateway's places: holder → ticket. */
  const held = new Map<string, string>();
  const renew = (): void => {
    for (const [holder, ticketId] of held) {
      deps.engine.leases.acquire(keyOf(ticketId), holder, MAX_SOCKETS_PER_TICKET, LEASE_TTL_MS).catch(deps.onError);
    }
  };
  const renewer = setInterval(renew, RENEW_EVERY_MS);
  renewer.unref();

  return {
    async hold(ticketId, holder) {
      const ok = await deps.engine.leases.acquire(keyOf(ticketId), holder, MAX_SOCKETS_PER_TICKET, LEASE_TTL_MS);
      if (ok) held.set(holder, ticketId);
      return ok;
    },
    async release(ticketId, holder) {
      if (held.get(holder) === ticketId) held.delete(holder);
      await deps.engine.leases.release(keyOf(ticketId), holder);
    },
    close() {
      clearInterval(renewer);
      held.clear();
    },
  };
}
