/**
 * The bus message: a `TicketChange` (ticket id and version) as JSON, and its delivery to a process's ring
 * listeners. Messages come from other processes, so they are validated before any listener sees them. A
 * message carries no status: what changed is read from the store, so a status this code does not know (from a
 * newer writer) can never make a doorbell undeliverable. Extra fields are ignored for the same reason.
 */
import type { TicketChange, TicketChangeListener } from './engine.js';

/** The wire form of a change: exactly its two fields, whatever else the object carries. */
export function encodeTicketChange(change: TicketChange): string {
  return JSON.stringify({ ticket: change.ticket, version: change.version });
}

/** The change a message carries, or null when it is not a well-formed change. */
export function decodeTicketChange(message: string): TicketChange | null {
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { ticket, version } = value as Record<string, unknown>;
  if (typeof ticket !== 'string' || typeof version !== 'number' || !Number.isSafeInteger(version)) return null;
  return { ticket, version };
}

/**
 * Call every listener with its own copy of the change. A listener's exception is re-thrown on a later tick, as
 * an EventEmitter would let it escape, so it is never swallowed yet cannot starve the listeners after it.
 */
export function deliverChange(listeners: ReadonlySet<TicketChangeListener>, change: TicketChange): void {
  for (const listener of [...listeners]) {
    try {
      listener({ ticket: change.ticket, version: change.version });
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
