/**
 * What the exchange hands out: a fresh credential on every login (never the browser's earlier cookie), a JWT
 * signed with the configured asymmetric key and verifiable from `/.well-known/jwks.json`, in an HttpOnly,
 * SameSite=Lax cookie that is Secure whenever the browser sees https.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, importSPKI, jwtVerify, type JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';

const running: Standalone[] = [];
const browsers: LoginBrowser[] = [];
const start = async (env: Record<string, string>): Promise<Standalone> => {
  // Scan mode: these tests are about the session, not how the scan is confirmed.
  const app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan', ...env });
  running.push(app);
  return app;
};
afterEach(async () => {
  for (const browser of browsers.splice(0)) browser.close();
  for (const app of running.splice(0)) await app.close();
});

/** Where this process really listens (`app.url` is PUBLIC_URL when one is set). */
const localUrl = (app: Standalone): string => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

async function loginCode(app: Standalone, openid: string): Promise<{ browser: LoginBrowser; code: string }> {
  const browser = await LoginBrowser.open(localUrl(app));
  browsers.push(browser);
  await scan(localUrl(app), { scene: browser.ticket.ticket, openid });
  return { browser, code: (await browser.waitFor('login')).code };
}

const cookieValue = (setCookie: string | null): string | undefined => /qrgate_session=([^;]*)/.exec(setCookie ?? '')?.[1];

describe('session credentials', () => {
  it('issues a fresh credential on every login and never upgrades a cookie the browser already had', async () => {
    const app = await start({});
    const first = await loginCode(app, 'o_fixation');
    const planted = 'attacker-chosen-session-id';

    const session = await first.browser.exchange(first.code, first.browser.ticket.secret, { cookie: `qrgate_session=${planted}` });

    expect(session.status).toBe(200);
    const issued = cookieValue(session.setCookie);
    expect(issued).toBe(session.body.token);
    expect(issued).not.toBe(planted);
    // A second login of the same user gets another credential, not the first one again.
    const second = await loginCode(app, 'o_fixation');
    const again = await second.browser.exchange(second.code, second.browser.ticket.secret, { cookie: `qrgate_session=${issued}` });
    expect(again.body.token).not.toBe(session.body.token);
    const jwks = createLocalJWKSet((await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] });
    // A login begun on the gateway's own page: `aud` is the gateway's public origin (issue 16, item 6).
    const audience = new URL(app.url).origin;
    const one = await jwtVerify(session.body.token, jwks, { audience });
    const two = await jwtVerify(again.body.token, jwks, { audience });
    expect(one.payload.sub).toBe('o_fixation');
    expect(one.payload.jti).not.toBe(two.payload.jti);
  });

  it('signs with a provided EC P-256 PKCS#8 key and publishes its public half at /.well-known/jwks.json', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const app = await start({ SESSION_SIGNING_KEY: privateKey });
    const { browser, code } = await loginCode(app, 'o_pem');

    const session = await browser.exchange(code);

    expect(session.status).toBe(200);
    expect(decodeProtectedHeader(session.body.token).alg).toBe('ES256');
    // Verifies with the operator's own public key, no JWKS involved.
    const { payload } = await jwtVerify(session.body.token, await importSPKI(publicKey, 'ES256'), { audience: new URL(app.url).origin });
    expect(payload.sub).toBe('o_pem');
    const jwks = (await (await fetch(`${app.url}/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    const expected = createPublicKey(publicKey).export({ format: 'jwk' });
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', x: expected.x, y: expected.y, alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('sets the cookie HttpOnly and SameSite=Lax, and Secure when PUBLIC_URL is https', async () => {
    const plain = await start({});
    const plainLogin = await loginCode(plain, 'o_cookie_http');
    const plainCookie = (await plainLogin.browser.exchange(plainLogin.code)).setCookie ?? '';
    expect(plainCookie).toMatch(/httponly/i);
    expect(plainCookie).toMatch(/samesite=lax/i);
    expect(plainCookie).not.toMatch(/;\s*secure/i);

    const https = await start({ PUBLIC_URL: 'https://login.example.com' });
    const httpsLogin = await loginCode(https, 'o_cookie_https');
    const httpsCookie = (await httpsLogin.browser.exchange(httpsLogin.code)).setCookie ?? '';
    expect(httpsCookie).toMatch(/httponly/i);
    expect(httpsCookie).toMatch(/samesite=lax/i);
    expect(httpsCookie).toMatch(/;\s*secure/i);
  });
});
