/**
 * Shared helpers of the browser tests: one real Chromium per test file, screenshots under test/artifacts/,
 * and decoding the QR code the page shows.
 */
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { startTestStandalone } from '../support/standalone.js';
import { decodeQrPng } from '../support/qr-decode.js';
import { requireTool } from '../support/test-tools.js';

/** Where screenshots go (gitignored). */
export const ARTIFACTS_DIR = new URL('../artifacts/', import.meta.url).pathname;

/** Headless Chromium from the system (on PATH or QRGATE_CHROMIUM), quiet (no update checks or sync traffic during the tests). */
export function launchChromium(): Promise<Browser> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: requireTool('chromium'),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** What {@link chromiumAndStandalone} gives a test file. */
export interface ChromiumAndStandalone {
  readonly browser: Browser;
  readonly app: Standalone;
  /** A new browser context (its own cookies), closed with the others after the file's tests. */
  newContext(options?: Parameters<Browser['newContext']>[0]): Promise<BrowserContext>;
}

/**
 * One Chromium and one standalone qrgate (`env` on top of the test defaults) for the tests of a file: started in
 * its `beforeAll`, closed in its `afterAll` with every context the tests opened.
 */
export function chromiumAndStandalone(env: Record<string, string>): ChromiumAndStandalone {
  let browser: Browser | undefined;
  let app: Standalone | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone(env)]);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.close();
  });
  return {
    get browser() {
      if (browser === undefined) throw new Error('Chromium is not started yet (use it inside a test)');
      return browser;
    },
    get app() {
      if (app === undefined) throw new Error('the standalone is not started yet (use it inside a test)');
      return app;
    },
    async newContext(options = {}) {
      const context = await this.browser.newContext(options);
      contexts.push(context);
      return context;
    },
  };
}

/** Save a full-page screenshot as test/artifacts/<name>.png. */
export async function snapshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${ARTIFACTS_DIR}${name}.png`, fullPage: true });
}

/** The QR image of the login widget. */
export const qrImage = (page: Page): Locator => page.locator('img.qrgate-qr');

/** The widget's live status line. */
export const statusLine = (page: Page): Locator => page.locator('.qrgate-status[role="status"]');

/** Text of the decoded QR code on screen, or null when nothing decodes. */
export async function decodeQr(page: Page): Promise<string | null> {
  return decodeQrPng(await qrImage(page).screenshot());
}

/** The ticket id and QR content the widget shows (public `data-` attributes; the secret is never in the DOM). */
export async function shownTicket(page: Page): Promise<{ ticket: string; qrUrl: string }> {
  const img = qrImage(page);
  await img.and(page.locator('[data-ticket]')).waitFor();
  const ticket = await img.getAttribute('data-ticket');
  const qrUrl = await img.getAttribute('data-qr-url');
  if (ticket === null || qrUrl === null) throw new Error('no ticket on the page');
  return { ticket, qrUrl };
}

/** `qrgate_tickets_created_total` from the gateway's /metrics (`baseUrl`: its metrics listener). */
export async function ticketsCreated(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('qrgate_tickets_created_total'));
  return line === undefined ? 0 : Number(line.split(/\s+/)[1]);
}

/** Poll until `check` returns true or time runs out (correctness waits only: generous deadlines). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
