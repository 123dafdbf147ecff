/**
 * Issue 16, item 6: a session token is bound to the site it was made for. The gateway records the Origin that
 * created the ticket, redeems its code only from that Origin, and issues `aud` = that origin; the gateway's own
 * page is one origin however it is reached (PUBLIC_URL or the gateway's own host), and its tokens carry the
 * gateway's public origin. A refused exchange changes nothing: the code still works for the right site.
 */
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeJwt, jwtVerify, type JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { sessionsIssued } from './security-harness.js';

const SHOP = 'https://shop.example';
const BLOG = 'https://blog.example';

const running: Standalone[] = [];
const browsers: LoginBrowser[] = [];
afterEach(async () => {
  for (const browser of browsers.splice(0)) browser.close();
  for (const app of running.splice(0)) await app.close();
});
const start = async (env: Record<string, string> = {}): Promise<Standalone> => {
  const app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan', ALLOWED_ORIGINS: `${SHOP},${BLOG}`, ...env });
  running.push(app);
  return app;
};
/** Where the process listens (`app.url` is PUBLIC_URL when one is set). */
const localUrl = (app: Standalone): string => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

/** A browser on the page of `origin` whose ticket was scanned: it holds a login code. */
async function codeFrom(app: Standalone, origin: string | undefined, openid: string) {
  const browser = await LoginBrowser.open(localUrl(app), origin === undefined ? {} : { extraHeaders: { origin } });
  browsers.push(browser);
  await scan(localUrl(app), { scene: browser.ticket.ticket, openid });
  return { browser, code: (await browser.waitFor('login')).code };
}
const jwksOf = async (app: Standalone) =>
  createLocalJWKSet((await (await fetch(`${localUrl(app)}/.well-known/jwks.json`)).json()) as { keys: JWK[] });

describe('tokens are bound to the site that began the login', () => {
  it("another allowed site cannot redeem a site's code (403 ORIGIN_NOT_ALLOWED, nothing changed); the site itself gets aud = its origin", async () => {
    const app = await start();
    const { browser, code } = await codeFrom(app, SHOP, 'o_audience_shop');
    const before = await app.engine.tickets.get(browser.ticket.ticket);
    expect(before?.browser.site).toBe(SHOP);

    for (const headers of [{ origin: BLOG }, {}] as Record<string, string>[]) {
      const refused = await browser.exchange(code, browser.ticket.secret, headers);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ code: 'ORIGIN_NOT_ALLOWED' });
      expect(refused.setCookie).toBeNull();
    }
    const after = await app.engine.tickets.get(browser.ticket.ticket);
    expect(after?.status).toBe('confirmed');
    expect(after?.version).toBe(before?.version);
    expect(await sessionsIssued(app)).toBe(0);

    const session = await browser.exchange(code, browser.ticket.secret, { origin: SHOP });
    expect(session.status).toBe(200);
    const jwks = await jwksOf(app);
    expect((await jwtVerify(session.body.token, jwks, { audience: SHOP })).payload.sub).toBe('o_audience_shop');
    // Replayed at the other site's backend, which checks its own audience, the token is worthless.
    await expect(jwtVerify(session.body.token, jwks, { audience: BLOG })).rejects.toThrow(/aud/);
  });

  it("the gateway's own page cannot redeem a site's code, nor a site the gateway's", async () => {
    const app = await start();
    const shop = await codeFrom(app, SHOP, 'o_audience_cross1');
    const own = await codeFrom(app, undefined, 'o_audience_cross2');
    const refusedOwn = await shop.browser.exchange(shop.code, shop.browser.ticket.secret, { origin: new URL(localUrl(app)).origin });
    const refusedSite = await own.browser.exchange(own.code, own.browser.ticket.secret, { origin: SHOP });
    expect([refusedOwn.status, refusedSite.status]).toEqual([403, 403]);
    expect(refusedSite.body).toMatchObject({ code: 'ORIGIN_NOT_ALLOWED' });
    expect((await app.engine.tickets.get(own.browser.ticket.ticket))?.status).toBe('confirmed');
    expect(await sessionsIssued(app)).toBe(0);
  });

  it("the gateway's own page is one origin however it is reached; its tokens say the public origin", async () => {
    const app = await start({ PUBLIC_URL: 'http://login.example' });
    // Begun on the page under PUBLIC_URL, redeemed from the page under the gateway's own address.
    const { browser, code } = await codeFrom(app, 'http://login.example', 'o_audience_own');
    expect((await app.engine.tickets.get(browser.ticket.ticket))?.browser.site).toBeUndefined();
    const session = await browser.exchange(code, browser.ticket.secret, { origin: new URL(localUrl(app)).origin });
    expect(session.status).toBe(200);
    expect(decodeJwt(session.body.token).aud).toBe('http://login.example');
    await jwtVerify(session.body.token, await jwksOf(app), { audience: 'http://login.example' });
  });
});
