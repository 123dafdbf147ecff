/**
 * Which local sockets watch which ticket. The first watcher of a ticket subscribes this process to the
 * ticket's doorbell on the bus; the last one to leave unsubscribes, so a gateway only ever hears about
 * tickets it holds a socket for.
 */
import type { Engine } from '../../libs/engine/index.js';
import type { Ticket } from '../../libs/ticket/index.js';

/** Something that can be told a ticket's current state. */
export interface TicketWatcher {
  deliver(ticket: Ticket): void;
}

interface Entry {
  watchers: Set<TicketWatcher>;
  subscribed: Promise<() => Promise<void>>;
}

export interface TicketWatchers {
  /** Resolves once this process is subscribed to the ticket's changes. */
  watch(ticketId: string, watcher: TicketWatcher): Promise<void>;
  unwatch(ticketId: string, watcher: TicketWatcher): Promise<void>;
  /** Number of tickets this process is subscribed to. */
  readonly size: number;
}

export function createTicketWatchers(deps: { engine: Engine; onError(err: unknown): void }): TicketWatchers {
  const entries = new Map<string, Entry>();

  // The bus only rings; the store says what happened (and a missed ring is made good on reconnect).
  const onChange = async (ticketId: string): Promise<void> => {
    const entry = entries.get(ticketId);
    if (entry === undefined) return;
    const ticket = await deps.engine.tickets.get(ticketId);
    if (ticket === null) return;
    for (const watcher of entry.watchers) watcher.deliver(ticket);
  };

  return {
    get size() {
      return entries.size;
    },
    async watch(ticketId, watcher) {
      let entry = entries.get(ticketId);
      if (entry === undefined) {
        const subscribed = deps.engine.events.subscribe(ticketId, () => {
          onChange(ticketId).catch(deps.onError);
        });
        entry = { watchers: new Set(), subscribed };
        entries.set(ticketId, entry);
        subscribed.catch(() => entries.delete(ticketId));
      }
      entry.watchers.add(watcher);
      await entry.subscribed;
    },
    async unwatch(ticketId, watcher) {
      const entry = entries.get(ticketId);
      if (entry === undefined || !entry.watchers.delete(watcher) || entry.watchers.size > 0) return;
      entries.delete(ticketId);
      const unsubscribe = await entry.subscribed.catch(() => null);
      await unsubscribe?.();
    },
  };
}
