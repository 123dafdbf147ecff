/**
 * What a scenario's record means, counted the way issue 9 defines it. Pure: the fleet's records, the scans and
 * the store's final word in, one row of the table out. Every browser that got a ticket lands in exactly one
 * of: logged in exactly once, cleanly expired or refreshed, lost, duplicated, stuck.
 */
import type { BrowserRecord } from './browser-fleet.js';

export interface Tally {
  scenario: string;
  started: number;
  /** One `login` and one successful exchange, for the ticket it holds at the end. */
  loggedInOnce: number;
  /** Not logged in, but told `expired` or given a new ticket: the page shows a live QR code. */
  expiredOrRefreshed: number;
  /**
   * Confirmed in the store (or the scanner was told it logged in), still connected, no `login`; or a `login`
   * whose code could not be redeemed (the user is not signed in either way).
   */
  lost: number;
  /** Two `login` events or two successful exchanges for one ticket. */
  duplicated: number;
  /** Neither logged in nor told: left on a QR code that cannot log in. */
  stuck: number;
  /** How long new browsers were refused a ticket, ms in all. */
  refusedMs: number;
  /** Browser ids per bad outcome, to debug a failing run. */
  examples: { lost: number[]; duplicated: number[]; stuck: number[] };
}

export interface TallyInput {
  scenario: string;
  browsers: readonly BrowserRecord[];
  /** The ticket each browser's scan was for (by browser id), and whether WeChat's scanner was told "signed in". */
  scans: ReadonlyMap<number, { ticket: string; toldSignedIn: boolean }>;
  /** Status of each ticket in the store at the end (absent: gone). */
  storeStatus: ReadonlyMap<string, string>;
  /** When the fault hit, epoch ms: a new ticket after it counts as a refresh. */
  faultAt: number;
  refusedMs: number;
}

export function tally(input: TallyInput): Tally {
  const row: Tally = {
    scenario: input.scenario,
    started: 0,
    loggedInOnce: 0,
    expiredOrRefreshed: 0,
    lost: 0,
    duplicated: 0,
    stuck: 0,
    refusedMs: Math.round(input.refusedMs),
    examples: { lost: [], duplicated: [], stuck: [] },
  };
  const note = (kind: 'lost' | 'duplicated' | 'stuck', id: number): void => {
    row[kind] += 1;
    if (row.examples[kind].length < 5) row.examples[kind].push(id);
  };
  for (const browser of input.browsers) {
    const tickets = browser.events.flatMap((e) => (e.ev === 'ticket' ? [e] : []));
    if (tickets.length === 0) continue;
    row.started += 1;
    const logins = new Map<string, number>();
    const exchanged = new Map<string, number>();
    for (const e of browser.events) {
      if (e.ev === 'login') logins.set(e.ticket, (logins.get(e.ticket) ?? 0) + 1);
      if (e.ev === 'exchange' && e.status === 200) exchanged.set(e.ticket, (exchanged.get(e.ticket) ?? 0) + 1);
    }
    if ([...logins.values(), ...exchanged.values()].some((n) => n > 1)) {
      note('duplicated', browser.id);
      continue;
    }
    const final = browser.current?.ticket;
    if (final !== undefined && logins.get(final) === 1 && exchanged.get(final) === 1) {
      row.loggedInOnce += 1;
      continue;
    }
    const scan = input.scans.get(browser.id);
    const scanned = scan?.ticket ?? final;
    const firstTicket = tickets[0]!.ticket;
    const told =
      browser.events.some((e) => e.ev === 'status' && e.status === 'expired' && e.ticket === scanned) ||
      tickets.some((t) => t.ticket !== firstTicket && t.at >= input.faultAt) ||
      (final !== undefined && final !== scanned);
    const confirmed = scanned !== undefined && (input.storeStatus.get(scanned) === 'confirmed' || scan?.toldSignedIn === true);
    const unredeemed = final !== undefined && logins.get(final) === 1 && exchanged.get(final) !== 1;
    if (unredeemed || (confirmed && browser.connected && logins.size === 0)) note('lost', browser.id);
    else if (told) row.expiredOrRefreshed += 1;
    else note('stuck', browser.id);
  }
  return row;
}

const COLUMNS: Array<[string, (t: Tally) => string]> = [
  ['scenario', (t) => t.scenario],
  ['started', (t) => String(t.started)],
  ['logged in once', (t) => String(t.loggedInOnce)],
  ['expired/refreshed', (t) => String(t.expiredOrRefreshed)],
  ['LOST', (t) => String(t.lost)],
  ['DUPLICATED', (t) => String(t.duplicated)],
  ['STUCK', (t) => String(t.stuck)],
  ['new logins refused', (t) => `${(t.refusedMs / 1000).toFixed(1)} s`],
];

/** The table, one row per scenario, as `npm run test:faults` prints it. */
export function formatTable(rows: readonly Tally[]): string {
  const cells = [COLUMNS.map(([name]) => name), ...rows.map((row) => COLUMNS.map(([, cell]) => cell(row)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  const line = (values: string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}
