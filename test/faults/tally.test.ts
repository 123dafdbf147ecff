/**
 * The counting rules of the fault suite, on hand-written records: each browser lands in exactly one outcome,
 * and each bad outcome is recognised (so a scenario's zero means something).
 */
import { describe, expect, it } from 'vitest';
import type { BrowserRecord } from './support/browser-fleet.js';
import type { WorkerEvent } from './support/browser-worker.js';
import { refusedMs } from './support/probes.js';
import { tally } from './support/tally.js';

type Step = WorkerEvent extends infer E ? (E extends WorkerEvent ? Omit<E, 'id' | 'at'> : never) : never;

function browser(id: number, steps: Step[], connected = true): BrowserRecord {
  const events = steps.map((step, i) => ({ ...step, id, at: 1_000 + i }) as WorkerEvent);
  const last = [...events].reverse().find((e): e is Extract<WorkerEvent, { ev: 'ticket' }> => e.ev === 'ticket');
  return { id, transport: 'websocket', events, connected, ...(last ? { current: { ticket: last.ticket, secret: last.secret } } : {}) };
}

describe('tally', () => {
  it('puts each browser in exactly one outcome', () => {
    const browsers = [
      // Logged in once.
      browser(0, [
        { ev: 'ticket', ticket: 'T0', secret: 's' },
        { ev: 'login', ticket: 'T0', code: 'c' },
        { ev: 'exchange', ticket: 'T0', status: 200 },
      ]),
      // Told expired, then a fresh QR code.
      browser(1, [
        { ev: 'ticket', ticket: 'T1', secret: 's' },
        { ev: 'status', ticket: 'T1', status: 'expired' },
        { ev: 'ticket', ticket: 'T1b', secret: 's' },
      ]),
      // Confirmed in the store, still connected, never told.
      browser(2, [{ ev: 'ticket', ticket: 'T2', secret: 's' }]),
      // Two logins for one ticket.
      browser(3, [
        { ev: 'ticket', ticket: 'T3', secret: 's' },
        { ev: 'login', ticket: 'T3', code: 'c' },
        { ev: 'login', ticket: 'T3', code: 'c' },
        { ev: 'exchange', ticket: 'T3', status: 200 },
      ]),
      // Scanned, gone from the store, never told.
      browser(4, [{ ev: 'ticket', ticket: 'T4', secret: 's' }]),
      // A login whose code could not be redeemed.
      browser(5, [
        { ev: 'ticket', ticket: 'T5', secret: 's' },
        { ev: 'login', ticket: 'T5', code: 'c' },
        { ev: 'exchange', ticket: 'T5', status: 401 },
      ]),
      // Never got a ticket: not started.
      browser(6, [{ ev: 'refused', code: 'WECHAT_UNAVAILABLE' }]),
    ];
    const scans = new Map([0, 2, 3, 4, 5].map((id) => [id, { ticket: `T${id}`, toldSignedIn: false }]));
    const row = tally({
      scenario: 't',
      browsers,
      scans,
      storeStatus: new Map([
        ['T0', 'consumed'],
        ['T2', 'confirmed'],
        ['T3', 'consumed'],
        ['T5', 'consumed'],
      ]),
      faultAt: 0,
      refusedMs: 1234,
    });
    expect(row).toMatchObject({ started: 6, loggedInOnce: 1, expiredOrRefreshed: 1, lost: 2, duplicated: 1, stuck: 1, refusedMs: 1234 });
    expect(row.examples).toEqual({ lost: [2, 5], duplicated: [3], stuck: [4] });
  });

  it('measures refusals from the first failed probe to the next success', () => {
    expect(
      refusedMs([
        { at: 0, ok: true },
        { at: 100, ok: false },
        { at: 200, ok: false },
        { at: 350, ok: true },
        { at: 400, ok: false },
        { at: 500, ok: true },
      ]),
    ).toBe(350);
    expect(refusedMs([{ at: 0, ok: true }])).toBe(0);
  });
});
