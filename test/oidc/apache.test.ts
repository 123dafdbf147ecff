/**
 * A relying party that is not ours: Apache httpd with Debian's mod_auth_openidc protects a page, and Chromium
 * signs in through qrgate's QR page. On the one-process memory engine Apache finds the provider by discovery
 * alone; on Redis with two gateway processes (plus a webhook and the WeChat simulator) the browser's
 * authorization request and QR page are on one gateway while Apache redeems the code, verifies the ID token
 * and calls userinfo on the other: its metadata document is gateway A's, with the back-channel endpoints that
 * gateway B publishes (mod_auth_openidc accepts plain-http endpoints only from a metadata document).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_USERS } from '../../apps/wechat-sim/index.js';
import { launchChromium } from '../browser/chromium.js';
import { apacheRedirectUri, startApacheRp, type ApacheRp } from '../support/apache.js';
import { freePort, type AppProcess } from '../support/app-process.js';
import { startOidcDeployment, type OidcDeployment } from '../support/oidc-deployment.js';
import { rsaKeyPem, scanLoginStep } from '../support/oidc-rp.js';
import { startTestStandalone } from '../support/standalone.js';

const ALICE = DEMO_USERS.find((u) => u.name === 'Alice')!;
const BOB = DEMO_USERS.find((u) => u.name === 'Bob')!;
const CLIENT_SECRET = 'apache-client-secret-0123456789-abcdefgh';

const apacheClient = (port: number): string =>
  JSON.stringify([{ client_id: 'apache', client_secret: CLIENT_SECRET, redirect_uris: [apacheRedirectUri(port)] }]);

/** Open Apache's protected page, sign in on the QR page as `openid`, and return the protected page's headers. */
async function signInThroughApache(browser: Browser, apache: ApacheRp, simUrl: string, openid: string): Promise<Record<string, string>> {
  const context = await browser.newContext({ locale: 'en-US' });
  try {
    const page = await context.newPage();
    const protectedPage = page.waitForResponse((r) => r.url() === `${apache.url}/protected/` && r.status() === 200, { timeout: 45_000 });
    await page.goto(`${apache.url}/protected/`);
    expect(new URL(page.url()).pathname).toMatch(/^\/oidc\/interaction\//);
    await scanLoginStep(page, simUrl, openid);
    const response = await protectedPage.catch((err: unknown) => {
      throw new Error(`${String(err)}\napache error log:\n${apache.errorLog()}`);
    });
    expect(await response.text()).toBe('protected\n');
    return response.headers();
  } finally {
    await context.close();
  }
}

describe('Apache mod_auth_openidc signs in through qrgate', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe('memory engine, one process, discovery', () => {
    let app: Standalone;
    let apache: ApacheRp;
    beforeAll(async () => {
      const port = await freePort();
      app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan', OIDC_CLIENTS: apacheClient(port), OIDC_SIGNING_KEY: rsaKeyPem() });
      apache = await startApacheRp({
        port,
        clientId: 'apache',
        clientSecret: CLIENT_SECRET,
        metadataUrl: `${app.url}/oidc/.well-known/openid-configuration`,
      });
    });
    afterAll(async () => {
      await apache?.stop();
      await app?.close();
    });

    it('protects a page: the user scans, Apache gets sub, amr and unionid', async () => {
      const headers = await signInThroughApache(browser, apache, app.url, ALICE.openid);
      expect(headers['x-oidc-sub']).toBe(ALICE.openid);
      expect(headers['x-oidc-amr']).toBe('scan');
      expect(headers['x-oidc-unionid']).toBe(ALICE.unionid);
    });
  });

  describe('Redis, two gateways: authorization on one, code exchange and userinfo on the other', () => {
    let deployment: OidcDeployment;
    let apache: ApacheRp;
    let sim: AppProcess;
    let metadata: Server;

    beforeAll(async () => {
      const apachePort = await freePort();
      deployment = await startOidcDeployment([
        { client_id: 'apache', client_secret: CLIENT_SECRET, redirect_uris: [apacheRedirectUri(apachePort)] },
      ]);
      sim = deployment.sim;
      const [portA, portB] = [deployment.gateways[0].port, deployment.gateways[1].port];
      const discover = async (port: number): Promise<Record<string, unknown>> =>
        (await (await fetch(`http://127.0.0.1:${port}/oidc/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      const [onA, onB] = await Promise.all([discover(portA), discover(portB)]);
      const split = { ...onA, token_endpoint: onB.token_endpoint, userinfo_endpoint: onB.userinfo_endpoint, jwks_uri: onB.jwks_uri };
      metadata = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(split));
      });
      await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve));
      apache = await startApacheRp({
        port: apachePort,
        clientId: 'apache',
        clientSecret: CLIENT_SECRET,
        metadataUrl: `http://127.0.0.1:${(metadata.address() as AddressInfo).port}/.well-known/openid-configuration`,
      });
    });
    afterAll(async () => {
      await apache?.stop();
      await new Promise<void>((resolve) => (metadata ? metadata.close(() => resolve()) : resolve()));
      await deployment?.stop();
    });

    it('signs users in across gateways, with and without a unionid', async () => {
      // Both gateways are one provider: the same issuer, and the same keys at either jwks_uri.
      const [gatewayA, gatewayB] = deployment.gateways.map((g) => g.url) as [string, string];
      const meta = await Promise.all(
        [gatewayA, gatewayB].map(
          async (u) => (await (await fetch(`${u}/oidc/.well-known/openid-configuration`)).json()) as Record<string, string>,
        ),
      );
      expect(meta[0]!.issuer).toBe(`${gatewayA}/oidc`);
      expect(meta[1]!.issuer).toBe(`${gatewayA}/oidc`);
      expect(meta[1]!.token_endpoint).toBe(`${gatewayB}/oidc/token`);
      const keys = await Promise.all(meta.map(async (m) => (await fetch(m.jwks_uri!)).json()));
      expect(keys[0]).toEqual(keys[1]);
      const alice = await signInThroughApache(browser, apache, sim.url, ALICE.openid);
      expect(alice['x-oidc-sub']).toBe(ALICE.openid);
      expect(alice['x-oidc-unionid']).toBe(ALICE.unionid);
      const bob = await signInThroughApache(browser, apache, sim.url, BOB.openid);
      expect(bob['x-oidc-sub']).toBe(BOB.openid);
      // No unionid claim at all: mod_headers writes an unset variable as "(null)".
      expect(bob['x-oidc-unionid']).toBe('(null)');
    });
  });
});
