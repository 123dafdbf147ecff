/**
 * The bus message: a `TicketChange` as JSON. Messages come from other processes, so they are validated before
 * any listener sees them.
 */
import type { TicketStatus } from '../ticket/index.js';
import type { TicketChange } from './engine.js';

const STATUSES: ReadonlySet<string> = new Set<TicketStatus>([
  'pending',
  'scanned',
  'confirmed',
  'consumed',
  'cancelled',
  'expired',
]);

/** The wire form of a change: exactly its three fields, whatever else the object carries. */
export function encodeTicketChange(change: TicketChange): string {
  return JSON.stringify({ ticket: change.ticket, status: change.status, version: change.version });
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
  const { ticket, status, version } = value as Record<string, unknown>;
  if (typeof ticket !== 'string' || typeof status !== 'string' || !STATUSES.has(status)) return null;
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) return null;
  return { ticket, status: status as TicketStatus, version };
}
