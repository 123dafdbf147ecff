/**
 * Issue 16, item 11: the headers a security review expects, on every app's responses: a CSP on every HTML page
 * (with frame-ancestors), `X-Content-Type-Options: nosniff` and a default frame-forbidding CSP everywhere, no
 * `X-Powered-By`, and HSTS exactly when PUBLIC_URL is https. Checked over real HTTP on the standalone product,
 * which serves the gateway, the webhook and the simulator.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_BUNDLE_ROUTE } from '../../apps/gateway/client-bundle.js';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEFAULT_CSP, HSTS_MAX_AGE_SECONDS } from '../../libs/http/index.js';
import { SESSION_ROUTE } from '../../libs/protocol/index.js';
import { fetchText, type HttpText } from '../support/http.js';
import { startTestStandalone } from '../support/standalone.js';

let plain: Standalone;
let https: Standalone;
beforeAll(async () => {
  plain = await startTestStandalone({ LOGIN_CONFIRMATION: 'tap' });
  https = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan', PUBLIC_URL: 'https://login.example' });
});
afterAll(async () => {
  await plain?.close();
  await https?.close();
});

/** What each app answers, pages and not: the login page, the confirm page's refusal, the simulator's phone,
 * JSON errors, the webhook's text, probes, the client bundle and a 404. */
const requests = (app: Standalone): Array<[string, () => Promise<HttpText>]> => {
  // Where the process listens (its PUBLIC_URL may name a host that only a proxy in front would answer for).
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return [
    ['GET /', () => fetchText(`${base}/`)],
    ['GET /confirm (refusal page)', () => fetchText(`${base}/confirm?t=bogus`)],
    ['GET /sim', () => fetchText(`${base}/sim`)],
    [
      `POST ${SESSION_ROUTE} (error)`,
      () => fetchText(`${base}${SESSION_ROUTE}`, { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } }),
    ],
    ['GET /wechat (unsigned)', () => fetchText(`${base}/wechat`)],
    ['GET /healthz', () => fetchText(`${base}/healthz`)],
    ['GET the client bundle', () => fetchText(`${base}${CLIENT_BUNDLE_ROUTE}`)],
    ['GET /nope', () => fetchText(`${base}/nope`)],
  ];
};

describe('security headers on every response', () => {
  it('every response: nosniff, a CSP that forbids framing, no X-Powered-By; every HTML page has its own CSP', async () => {
    for (const [name, send] of requests(plain)) {
      const res = await send();
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(res.headers.get('x-content-type-options'), name).toBe('nosniff');
      expect(res.headers.get('x-powered-by'), name).toBeNull();
      expect(csp, name).toMatch(/frame-ancestors '(none|self)'/);
      if ((res.headers.get('content-type') ?? '').startsWith('text/html')) {
        // A page's own policy, with a fresh nonce for its inline code, replaces the default.
        expect(csp, name).toMatch(/'nonce-[A-Za-z0-9+/=]{16,}'/);
        expect(res.body, name).toMatch(/^<!doctype html>/i);
      } else {
        expect(csp, name).toBe(DEFAULT_CSP);
      }
    }
  });

  it('the login page and the simulator cannot be framed; the confirm page only by its own origin', async () => {
    expect((await fetchText(`${plain.url}/`)).headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect((await fetchText(`${plain.url}/sim`)).headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const confirm = await fetchText(`${plain.url}/confirm?t=bogus`);
    expect(confirm.headers.get('content-security-policy')).toContain("frame-ancestors 'self'");
    expect(confirm.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });

  it('HSTS only when PUBLIC_URL is https', async () => {
    for (const [name, send] of requests(plain)) expect((await send()).headers.get('strict-transport-security'), name).toBeNull();
    for (const [name, send] of requests(https).filter(([n]) => n !== 'GET /sim' && n !== 'GET /confirm (refusal page)')) {
      expect((await send()).headers.get('strict-transport-security'), name).toBe(`max-age=${HSTS_MAX_AGE_SECONDS}`);
    }
  });
});
