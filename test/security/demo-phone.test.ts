/**
 * The tap flow in the demo, in a real browser: the login page, and the simulator's phone page scanning its
 * code, pressing "Open link" (the confirmation page in the phone's in-app frame, same origin) and tapping
 * Confirm or Not me. Catches what an HTTP client cannot: CSP, framing, and the Origin a browser really sends
 * with the form.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { launchChromium, statusLine } from '../browser/chromium.js';
import { startTestStandalone } from '../support/standalone.js';

describe('the demo phone confirms in its in-app browser', () => {
  let chromium: Browser;
  let app: Standalone | undefined;
  beforeAll(async () => {
    chromium = await launchChromium();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await chromium?.close();
  });

  /** Scan the only live code on the simulator's phone and open the link of the reply. */
  async function openLinkOnPhone(phone: Page): Promise<void> {
    await phone.goto(`${app!.url}/sim`);
    await phone.locator('li.code button').first().click();
    await phone.getByRole('button', { name: 'Open link' }).click();
  }

  it.each([
    { action: 'confirm' as const, button: '确认登录', done: '已确认登录', status: /Signed in as oQgSim/ },
    { action: 'cancel' as const, button: '不是我', done: '已拒绝这次登录', status: /declined on the phone/ },
  ])('$action: the login page follows the tap made on the phone', async ({ button, done, status }) => {
    app = await startTestStandalone({});
    const context = await chromium.newContext({ locale: 'en-US' });
    const blocked: string[] = [];
    try {
      const login = await context.newPage();
      await login.goto(`${app.url}/`);
      await login.locator('img.qrgate-qr').waitFor();
      const phone = await context.newPage();
      phone.on('console', (message) => {
        if (/Content Security Policy|Refused/.test(message.text())) blocked.push(message.text());
      });

      await openLinkOnPhone(phone);
      const frame = phone.frameLocator('#frame');
      await frame.getByRole('button', { name: button }).click();

      await frame.getByText(done).waitFor();
      await statusLine(login).filter({ hasText: status }).waitFor();
      expect(blocked).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
