/**
 * Which sockets hold a ticket, fleet-wide: at most {@link MAX_SOCKETS_PER_TICKET} at a time, through the
 * engine's leases, so one ticket (whose secret the page holds anyway) cannot be resumed by a crowd of
 * sockets spread over every gateway. Two, not one: a browser that reconnects after a network blip holds a
 * new socket while the gateway has not yet noticed the old one is dead. This gateway renews the leases of its
 * own sockets; a gateway that dies stops renewing, and its places lapse after {@link LEASE_TTL_MS}.
 *
 * A browser whose connections keep dropping would soon have both places held by its own dead sockets (each
 * lives on until the ping timeout). So a resume may name the socket it replaces: that socket's place, if it
 * still has one on this ticket, becomes the new socket's in one engine step (a socket id is random, so only
 * the browser that owned it can name it). Renewal never takes a place back: a socket found without one was
 * replaced (or its lease lapsed) and is told through its `lost` callback, which disconnects it.
 */
import type { Engine } from '../../libs/engine/index.js';

/** Sockets allowed on one ticket across the fleet. */
export const MAX_SOCKETS_PER_TICKET = 2;
/** How long a place is held without renewal: how long a dead gateway's sockets still count. */
export const LEASE_TTL_MS = 60_000;
/**
 * Renewal period: three renewals per TTL, so one failed write does not lose a place. Also how long a socket
 * replaced from another gateway stays connected at most before this gateway notices and disconnects it.
 */
export const RENEW_EVERY_MS = LEASE_TTL_MS / 3;

/** How a socket takes its place. */
export interface HoldOptions {
  /** A holder whose place on this ticket `holder` takes, if it still has one (the resume's `replaces`). */
  replaces?: string;
  /** Called once when `holder` is found to have lost its place: replaced by a newer socket, or lapsed. */
  lost(): void;
}

export interface TicketHolders {
  /**
   * Take (or keep) `holder`'s place on `ticketId`, or the place of `options.replaces` when that holder has one;
   * false when the ticket already has its sockets.
   */
  hold(ticketId: string, holder: string, options: HoldOptions): Promise<boolean>;
  /** Give the place back (the socket left or moved to another ticket). */
  release(ticketId: string, holder: string): Promise<void>;
  /** Stop renewing (the gateway closes). */
  close(): void;
}

const keyOf = (ticketId: string): string => `ticket-sockets:${ticketId}`;

/** One place this gateway holds. */
interface Place {
  ticketId: string;
  lost(): void;
}

export function createTicketHolders(deps: { engine: Engine; onError(err: unknown): void }): TicketHolders {
  /** This gateway's places: holder → its place. */
  const held = new Map<string, Place>();

  /** Renew one place; a place found gone is dropped and its socket told. */
  const keep = async (holder: string, place: Place): Promise<void> => {
    const renewed = await deps.engine.leases.renew(keyOf(place.ticketId), holder, LEASE_TTL_MS);
    // Released, or moved to another ticket, while the renewal was under way: that is not a loss.
    if (renewed || held.get(holder) !== place) return;
    held.delete(holder);
    place.lost();
  };
  const renew = (): void => {
    for (const [holder, place] of held) keep(holder, place).catch(deps.onError);
  };
  const renewer = setInterval(renew, RENEW_EVERY_MS);
  renewer.unref();

  return {
    async hold(ticketId, holder, options) {
      const { replaces } = options;
      const key = keyOf(ticketId);
      const ok =
        replaces === undefined
          ? await deps.engine.leases.acquire(key, holder, MAX_SOCKETS_PER_TICKET, LEASE_TTL_MS)
          : await deps.engine.leases.replace(key, replaces, holder, MAX_SOCKETS_PER_TICKET, LEASE_TTL_MS);
      if (!ok) return false;
      held.set(holder, { ticketId, lost: options.lost });
      // The socket replaced is this gateway's own: no need to wait for the next renewal to find it out.
      if (replaces !== undefined && replaces !== holder) {
        const replaced = held.get(replaces);
        if (replaced?.ticketId === ticketId) keep(replaces, replaced).catch(deps.onError);
      }
      return true;
    },
    async release(ticketId, holder) {
      if (held.get(holder)?.ticketId === ticketId) held.delete(holder);
      await deps.engine.leases.release(keyOf(ticketId), holder);
    },
    close() {
      clearInterval(renewer);
      held.clear();
    },
  };
}
