/**
 * The embedding example (examples/embed) on another origin, in real Chromium: the client module loads
 * cross-origin from the gateway and shows its QR code when the origin is in ALLOWED_ORIGINS, is refused with
 * ORIGIN_NOT_ALLOWED otherwise, and the example backend verifies gateway session tokens against the JWKS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { freePort } from '../support/app-process.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { decodeQr, launchChromium, shownTicket, snapshot, statusLine, ticketsCreated } from './chromium.js';

const EXAMPLE = new URL('../../examples/embed/verify-session.mjs', import.meta.url).pathname;

/** Start the example backend and wait for its "listening" line. */
async function startExample(gatewayUrl: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [EXAMPLE], {
    env: { ...process.env, GATEWAY_URL: gatewayUrl, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('embed example on') && resolve());
    child.once('exit', (code) => reject(new Error(`example exited with ${code}: ${err}`)));
  });
  return child;
}

describe('embedding on another origin', () => {
  let browser: Browser;
  let app: Standalone;
  let example: ChildProcess;
  let port: number;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    port = await freePort();
    // `localhost` and `127.0.0.1` are different origins (and sites): the gateway lives on the latter.
    [browser, app] = await Promise.all([
      launchChromium(),
      startTestStandalone({ LOGIN_CONFIRMATION: 'scan', ALLOWED_ORIGINS: `http://localhost:${port}` }),
    ]);
    example = await startExample(app.url, port);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    example?.kill();
    await app?.close();
  });

  async function open(url: string): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-US', viewport: { width: 800, height: 700 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(url);
    return page;
  }

  it('loads the client module from the gateway and shows its QR code on an allowed origin', async () => {
    const page = await open(`http://localhost:${port}/`);
    await expect.poll(() => statusLine(page).textContent(), { timeout: 15_000 }).toBe('Waiting for you to scan…');
    const { qrUrl } = await shownTicket(page);
    expect(await decodeQr(page)).toBe(qrUrl);
    await snapshot(page, 'embed-waiting');
  });

  it('shows ORIGIN_NOT_ALLOWED, and issues no ticket, for an origin not in ALLOWED_ORIGINS', async () => {
    const before = await ticketsCreated(app.metricsUrl);
    const page = await open(`http://127.0.0.1:${port}/`);
    await expect.poll(() => page.locator('.qrgate').getAttribute('data-state'), { timeout: 15_000 }).toBe('error');
    expect(await statusLine(page).textContent()).toBe('Something went wrong: origin not allowed');
    expect(await page.locator('.qrgate-refresh').textContent()).toBe('Try again');
    expect(await ticketsCreated(app.metricsUrl)).toBe(before);
  });

  it('has its backend verify a gateway session token against the JWKS, and refuse a forged one', async () => {
    // The login is begun and redeemed by the embedding site's page (its Origin), as the widget there does.
    const site = { origin: `http://localhost:${port}` };
    const phoneSide = await LoginBrowser.open(app.url, { extraHeaders: site });
    const ownPage = await LoginBrowser.open(app.url);
    try {
      await scan(app.url, { scene: phoneSide.ticket.ticket, openid: 'o_embed_backend' });
      const login = await phoneSide.waitFor('login');
      const { body } = await phoneSide.exchange(login.code, phoneSide.ticket.secret, site);
      const verify = (token: string) => fetch(`http://localhost:${port}/session`, { method: 'POST', body: JSON.stringify({ token }) });

      const ok = await verify(body.token);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ openid: 'o_embed_backend' });

      // A token made for another audience (here the gateway's own page) is refused by the site's backend.
      await scan(app.url, { scene: ownPage.ticket.ticket, openid: 'o_embed_elsewhere' });
      const elsewhere = await ownPage.exchange((await ownPage.waitFor('login')).code);
      expect(elsewhere.status).toBe(200);
      expect((await verify(elsewhere.body.token)).status).toBe(401);

      const [header, payload, signature] = body.token.split('.') as [string, string, string];
      const forgedPayload = Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'o_someone_else' }),
      ).toString('base64url');
      expect((await verify(`${header}.${forgedPayload}.${signature}`)).status).toBe(401);
    } finally {
      phoneSide.close();
      ownPage.close();
    }
  });
});
