/**
 * The change listeners one process holds, per ticket. Both engines fan a received change out through this, so
 * the delivery rules are the same everywhere: each delivery works on a snapshot of the listeners, and a
 * listener that throws does not keep the change from the others.
 */
import type { TicketChange, TicketChangeListener } from './engine.js';

/** Per-ticket listener sets. The engine decides what a ticket's first and last listener mean for its transport. */
export class LocalListeners {
  // A wrapper object per registration, so the same function subscribed twice counts (and is removed) twice.
  private readonly byTicket = new Map<string, Set<{ listener: TicketChangeListener }>>();

  /** Register a listener; the returned function removes exactly this registration and is idempotent. */
  add(ticket: string, listener: TicketChangeListener): () => void {
    let set = this.byTicket.get(ticket);
    if (set === undefined) {
      set = new Set();
      this.byTicket.set(ticket, set);
    }
    const entry = { listener };
    set.add(entry);
    return () => {
      const current = this.byTicket.get(ticket);
      if (current?.delete(entry) && current.size === 0) this.byTicket.delete(ticket);
    };
  }

  /** True while at least one listener is registered for the ticket. */
  has(ticket: string): boolean {
    return this.byTicket.has(ticket);
  }

  /** Tickets that have at least one listener. */
  tickets(): string[] {
    return [...this.byTicket.keys()];
  }

  /**
   * Call every listener of the change's ticket. A listener's exception is re-thrown on a later tick, as an
   * EventEmitter would let it escape, so it is never swallowed yet cannot starve the listeners after it.
   */
  deliver(change: TicketChange): void {
    const set = this.byTicket.get(change.ticket);
    if (set === undefined) return;
    for (const { listener } of [...set]) {
      try {
        listener({ ...change });
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  /** Forget every listener. */
  clear(): void {
    this.byTicket.clear();
  }
}
