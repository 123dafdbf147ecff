/**
 * A site listed in ALLOWED_ORIGINS embeds the client: its sockets are accepted and it can redeem codes
 * cross-origin (CORS preflight + readable response). Other origins get neither.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { type ConnectError, LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';

const SITE = 'https://shop.example.com';

describe('cross-origin embedding', () => {
  let app: Standalone;
  beforeAll(async () => {
    app = await startTestStandalone({ ALLOWED_ORIGINS: SITE, LOGIN_CONFIRMATION: 'scan' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers the exchange preflight for an allowed origin only', async () => {
    const allowed = await fetch(`${app.url}/api/session`, {
      method: 'OPTIONS',
      headers: { origin: SITE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(SITE);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/content-type/);

    const foreign = await fetch(`${app.url}/api/session`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('logs in a browser on the allowed site end to end, and refuses a foreign one', async () => {
    const browser = await LoginBrowser.open(app.url, { extraHeaders: { origin: SITE } });
    try {
      await scan(app.url, { scene: browser.ticket.ticket, openid: 'o_cross_origin' });
      const login = await browser.waitFor('login');
      const res = await fetch(`${app.url}/api/session`, {
        method: 'POST',
        headers: { origin: SITE, 'content-type': 'application/json' },
        body: JSON.stringify({ code: login.code, secret: browser.ticket.secret }),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(SITE);
    } finally {
      browser.close();
    }
    const foreign = await LoginBrowser.open(app.url, { transports: ['polling'], extraHeaders: { origin: 'https://evil.example' } }).catch(
      (e: unknown) => e,
    );
    expect((foreign as ConnectError).code).toBe('ORIGIN_NOT_ALLOWED');
  });
});
