/**
 * Issue 16, item 5: proxies are trusted by address. X-Forwarded-For counts only when the TCP peer is one of
 * TRUST_PROXY's addresses; a client that reaches the gateway directly cannot dodge the per-IP limits or put
 * somebody else's IP on the scanner's confirm page. (The test client speaks from 127.0.0.1.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { SESSION_ROUTE } from '../../libs/protocol/index.js';
import { fetchText } from '../support/http.js';
import { ConnectError, LoginBrowser } from '../support/login-browser.js';
import { startTestStandalone } from '../support/standalone.js';
import { sessionsIssued, ticketsCreated } from './security-harness.js';

const running: Standalone[] = [];
const browsers: LoginBrowser[] = [];
const start = async (env: Record<string, string>): Promise<Standalone> => {
  const app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan', ...env });
  running.push(app);
  return app;
};
const open = async (app: Standalone, forwardedFor: string): Promise<LoginBrowser> => {
  const browser = await LoginBrowser.open(app.url, { extraHeaders: { 'x-forwarded-for': forwardedFor } });
  browsers.push(browser);
  return browser;
};
afterEach(async () => {
  for (const browser of browsers.splice(0)) browser.close();
  for (const app of running.splice(0)) await app.close();
});

describe('TRUST_PROXY by address', () => {
  it('a direct client (not a listed proxy) cannot choose its IP: the ticket quota is spent and the page shows its own address', async () => {
    const app = await start({ TRUST_PROXY: '10.0.0.0/8', RATE_LIMIT_TICKETS_PER_MINUTE: '2' });
    for (const claim of ['203.0.113.1', '203.0.113.2']) {
      const browser = await open(app, claim);
      expect((await app.engine.tickets.get(browser.ticket.ticket))?.browser.ip).toBe('127.0.0.1');
    }
    const before = await ticketsCreated(app);
    const refused = await open(app, '203.0.113.3').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe('RATE_LIMITED');
    expect(await ticketsCreated(app)).toBe(before);
  });

  it('a direct client cannot dodge the exchange limit by writing X-Forwarded-For', async () => {
    const app = await start({ TRUST_PROXY: '10.0.0.0/8', RATE_LIMIT_EXCHANGES_PER_MINUTE: '1' });
    const post = (claim: string) =>
      fetchText(`${app.url}${SESSION_ROUTE}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': claim },
        body: JSON.stringify({ code: 'c'.repeat(32), secret: 's'.repeat(32) }),
      });
    expect((await post('203.0.113.4')).status).not.toBe(429);
    const limited = await post('203.0.113.5');
    expect(limited.status).toBe(429);
    expect(JSON.parse(limited.body)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await sessionsIssued(app)).toBe(0);
  });

  it('behind a listed proxy the client is the first untrusted hop from the right', async () => {
    const app = await start({ TRUST_PROXY: '127.0.0.1,10.0.0.0/8', RATE_LIMIT_TICKETS_PER_MINUTE: '1' });
    const viaTwo = await open(app, 'forged, 198.51.100.7, 10.0.0.3');
    expect((await app.engine.tickets.get(viaTwo.ticket.ticket))?.browser.ip).toBe('198.51.100.7');
    // Another client behind the same proxies has its own quota…
    const other = await open(app, '198.51.100.8');
    expect((await app.engine.tickets.get(other.ticket.ticket))?.browser.ip).toBe('198.51.100.8');
    // …and changing what the client wrote left of it does not buy a new one.
    const before = await ticketsCreated(app);
    const refused = await open(app, 'other-claim, 198.51.100.7, 10.0.0.3').catch((e: unknown) => e);
    expect((refused as ConnectError).code).toBe('RATE_LIMITED');
    expect(await ticketsCreated(app)).toBe(before);
  });
});
