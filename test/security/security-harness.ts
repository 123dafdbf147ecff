/**
 * What the security tests share: the standalone product as an attacker meets it (real HTTP and WebSocket),
 * pushes signed exactly as WeChat signs them (or not quite), and the check that a refused request changed
 * nothing — the ticket is as it was, the browser heard nothing new, no session was issued.
 */
import { expect } from 'vitest';
import { DEMO_WECHAT, type Standalone } from '../../apps/standalone/standalone.js';
import type { Ticket } from '../../libs/ticket/index.js';
import { buildEventXml, signPush, type PushSigningOptions } from '../../libs/wechat/index.js';
import { fetchText, type HttpText } from '../support/http.js';
import { LoginBrowser, type BrowserOptions } from '../support/login-browser.js';
/** The simulator's Official Account id: the `ToUserName` of its pushes. */
export const OA_ID = 'gh_qrgatesim000';

/**
 * A SCAN push for `scene` from `openid`, as WeChat builds it: with the scanned code's `Ticket`, which WeChat
 * always sends (WECHAT.md §5) and only it and the store know.
 */
export const scanXml = (scene: string, openid: string, qrTicket: string): string =>
  buildEventXml({
    toUserName: OA_ID,
    fromUserName: openid,
    createTime: Math.floor(Date.now() / 1000),
    event: 'SCAN',
    eventKey: scene,
    ticket: qrTicket,
  });

/** WeChat's QR ticket of `scene` as the store holds it (WeChat knows it: it made the code); made up when absent. */
export async function qrTicketOf(app: Standalone, scene: string): Promise<string> {
  return (await app.engine.tickets.get(scene))?.qr.wechatTicket ?? 'gQ-no-such-code';
}

/** {@link scanXml} for a scene of `app`, with its real QR ticket: the push WeChat sends when it is scanned. */
export async function scanOf(app: Standalone, scene: string, openid: string): Promise<string> {
  return scanXml(scene, openid, await qrTicketOf(app, scene));
}

/** Sign (and with `aes`, encrypt) a push with the demo account's token, as WeChat does. */
export const signed = (xml: string, options: Partial<PushSigningOptions> = {}) => signPush(xml, { token: DEMO_WECHAT.token, ...options });

/** POST a raw body with a raw query string to the product's `/wechat`. */
export async function postPush(app: Standalone, query: string, body: string): Promise<HttpText> {
  return fetchText(`${app.url}/wechat?${query}`, { method: 'POST', body, headers: { 'content-type': 'text/xml' } });
}

/** Sessions issued so far by the product (`qrgate_tickets_consumed_total`). */
export async function sessionsIssued(app: Standalone): Promise<number> {
  return (await app.metrics.ticketsConsumed.get()).values[0]?.value ?? 0;
}

/** Tickets created so far (`qrgate_tickets_created_total`). */
export async function ticketsCreated(app: Standalone): Promise<number> {
  return (await app.metrics.ticketsCreated.get()).values[0]?.value ?? 0;
}

let nextAddress = 1;
/**
 * A client address of its own (the product under attack trusts X-Forwarded-For), so that per-IP limits of
 * one test never spend another test's quota.
 */
export const freshAddress = (): string => `198.51.100.${nextAddress++}`;

/** A browser with a fresh pending ticket, from its own address unless one is given. */
export async function openBrowser(app: Standalone, options: BrowserOptions & { address?: string } = {}): Promise<LoginBrowser> {
  const { address = freshAddress(), ...rest } = options;
  const browser = await LoginBrowser.open(app.url, { ...rest, extraHeaders: { 'x-forwarded-for': address, ...rest.extraHeaders } });
  await browser.waitFor('status', (s) => s.status === 'pending');
  return browser;
}

/** What a browser's ticket and the product looked like before an attack. */
export interface Snapshot {
  ticketId: string;
  /** Null once the store dropped the ticket (a pending ticket is gone at its TTL). */
  ticket: Ticket | null;
  events: number;
  sessions: number;
}

export async function snapshot(app: Standalone, browser: LoginBrowser): Promise<Snapshot> {
  const ticketId = browser.ticket.ticket;
  return { ticketId, ticket: await app.engine.tickets.get(ticketId), events: browser.events.length, sessions: await sessionsIssued(app) };
}

/**
 * Nothing changed since `before`: the stored ticket is the same version in the same state (the store is the
 * truth, and the bus rings only after a change, so no browser can have been told anything) or is still gone,
 * the browser recorded no new event, and no session was issued.
 */
export async function expectUnchanged(app: Standalone, browser: LoginBrowser, before: Snapshot): Promise<void> {
  const now = await app.engine.tickets.get(before.ticketId);
  if (before.ticket === null) expect(now).toBeNull();
  expect(now?.status).toBe(before.ticket?.status);
  expect(now?.version).toBe(before.ticket?.version);
  expect(now?.openid).toBe(before.ticket?.openid);
  expect(browser.events.length).toBe(before.events);
  expect(await sessionsIssued(app)).toBe(before.sessions);
}

/** A pending ticket that nothing touched: the catalogue's usual "no state changed". */
export async function expectStillPending(app: Standalone, browser: LoginBrowser, before: Snapshot): Promise<void> {
  expect(before.ticket?.status).toBe('pending');
  await expectUnchanged(app, browser, before);
  expect(browser.statuses()).toEqual(['pending']);
  expect(browser.logins()).toEqual([]);
}

/** The `t` of a confirmation link (in its fragment: `/confirm#t=…`). */
export const tokenOf = (link: string): string => new URLSearchParams(new URL(link).hash.slice(1)).get('t') ?? '';

/**
 * Submit the confirmation form directly (a replayed or forged POST), from the page's own origin; `cookie` is
 * the device cookie of an earlier `open` (none: a device that never opened the link).
 */
export async function postConfirmation(
  app: Standalone,
  token: string,
  action: 'open' | 'confirm' | 'cancel',
  cookie?: string,
): Promise<HttpText> {
  return fetchText(`${app.url}/confirm`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: new URL(app.url).origin,
      ...(cookie !== undefined ? { cookie } : {}),
    },
    body: new URLSearchParams({ t: token, action }).toString(),
  });
}

/** Open a link's token as its page's script does; the device cookie the answer set (`name=value`). */
export async function openConfirmation(app: Standalone, token: string): Promise<{ page: HttpText; cookie: string }> {
  const page = await postConfirmation(app, token, 'open');
  return {
    page,
    cookie: page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; '),
  };
}
