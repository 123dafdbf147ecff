/**
 * The gateway's hub: which local sockets watch which ticket. The one place that counts a ticket's watchers
 * (the engine's bus only subscribes, unsubscribes and rings, as centrifuge's node counts and its broker
 * does not): the first watcher of a ticket subscribes this process to the ticket's doorbell, the last one to
 * leave unsubscribes, so a gateway only ever hears about tickets it holds a socket for. A doorbell names the
 * ticket only; the hub reads the store for what happened.
 */
import type { Engine } from '../../libs/engine/index.js';
import type { Ticket } from '../../libs/ticket/index.js';

/** Something that can be told a ticket's current state. */
export interface TicketWatcher {
  deliver(ticket: Ticket): void;
  /** The ticket is no longer in the store (its retention passed, or the store lost it, e.g. Redis restarted). */
  gone(ticketId: string): void;
}

interface Entry {
  watchers: Set<TicketWatcher>;
  subscribed: Promise<void>;
}

export interface TicketWatchers {
  /** Resolves once this process is subscribed to the ticket's changes. */
  watch(ticketId: string, watcher: TicketWatcher): Promise<void>;
  unwatch(ticketId: string, watcher: TicketWatcher): Promise<void>;
  /** Number of tickets this process is subscribed to. */
  readonly size: number;
  /**
   * How many times the bus has resynced (reconnected, and every watched ticket was read again). A ticket
   * known from before a resync, and watched only after it, may have been lost meanwhile unseen.
   */
  readonly resyncs: number;
  /** Stop listening for bus reconnects. */
  close(): void;
}

export function createTicketWatchers(deps: { engine: Engine; onError(err: unknown): void }): TicketWatchers {
  const entries = new Map<string, Entry>();
  let resyncs = 0;

  // The bus only rings; the store says what happened (and a missed ring is made good on reconnect). A ticket
  // the store no longer has can never log in: its watchers are told at once, not left on a dead QR code.
  const onChange = async (ticketId: string): Promise<void> => {
    const entry = entries.get(ticketId);
    if (entry === undefined) return;
    const ticket = await deps.engine.tickets.get(ticketId);
    for (const watcher of [...entry.watchers]) {
      if (ticket === null) watcher.gone(ticketId);
      else watcher.deliver(ticket);
    }
  };

  const stopRings = deps.engine.events.onRing((change) => {
    if (entries.has(change.ticket)) onChange(change.ticket).catch(deps.onError);
  });
  // The bus was reconnected: anything rung meanwhile is lost, so read every watched ticket once.
  const stopResync = deps.engine.events.onResync(() => {
    resyncs += 1;
    for (const ticketId of entries.keys()) onChange(ticketId).catch(deps.onError);
  });

  return {
    get size() {
      return entries.size;
    },
    get resyncs() {
      return resyncs;
    },
    async watch(ticketId, watcher) {
      let entry = entries.get(ticketId);
      if (entry === undefined) {
        const subscribed = deps.engine.events.subscribe(ticketId);
        const created: Entry = { watchers: new Set(), subscribed };
        entry = created;
        entries.set(ticketId, created);
        // Only this entry: a newer one for the same ticket must survive an old subscription's failure.
        subscribed.catch(() => {
          if (entries.get(ticketId) === created) entries.delete(ticketId);
        });
      }
      entry.watchers.add(watcher);
      await entry.subscribed;
    },
    async unwatch(ticketId, watcher) {
      const entry = entries.get(ticketId);
      if (entry === undefined || !entry.watchers.delete(watcher) || entry.watchers.size > 0) return;
      entries.delete(ticketId);
      const wasSubscribed = await entry.subscribed.then(
        () => true,
        () => false,
      );
      // A watcher that came meanwhile made a new entry and subscribed again: the subscription is its now.
      if (!wasSubscribed || entries.has(ticketId)) return;
      await deps.engine.events.unsubscribe(ticketId);
    },
    close() {
      stopRings();
      stopResync();
    },
  };
}
