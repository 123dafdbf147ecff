/**
 * Issue 9, scenario a, in real Chromium: a page whose connections die without the gateway noticing is not
 * locked out of its ticket by them. Between the page and the gateway sits a TCP relay that cuts connections
 * the way a NAT or proxy dropping them silently does: the page's side closes, the gateway's side stays open and
 * silent, so the gateway would keep each one as a live socket until its ping timeout (45 s). Each new socket
 * names the one it replaces (`auth.replaces`): it takes that one's place and the dead socket is disconnected,
 * so three cuts in a row still leave the page on its ticket. Without that, the third socket is refused
 * TICKET_IN_USE by the page's own two dead ones, and after three retries the widget stops.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { eventually, launchChromium, shownTicket, statusLine, ticketsCreated } from './chromium.js';

/** A TCP relay to `target` whose `cut()` closes the client side of every connection and keeps the other open, mute. */
interface Relay {
  readonly url: string;
  cut(): void;
  close(): Promise<void>;
}

async function startRelay(target: URL): Promise<Relay> {
  const live = new Set<{ client: Socket; upstream: Socket }>();
  const dead = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    const pair = { client, upstream };
    live.add(pair);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
    client.pipe(upstream);
    upstream.pipe(client);
    // A normal close on either side closes the other, unless the pair was cut (the gateway must not know).
    client.on('close', () => {
      if (live.delete(pair)) upstream.destroy();
    });
    upstream.on('close', () => {
      live.delete(pair);
      dead.delete(upstream);
      client.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut() {
      for (const pair of [...live]) {
        live.delete(pair);
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        // Nothing from the page reaches the gateway any more, and nothing it sends is read.
        pair.upstream.pause();
        dead.add(pair.upstream);
        pair.client.destroy();
      }
    },
    async close() {
      for (const pair of live) pair.upstream.destroy();
      for (const upstream of dead) upstream.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('connections that die without the gateway noticing', () => {
  let browser: Browser;
  let app: Standalone;
  let relay: Relay;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    [browser, app] = await Promise.all([launchChromium(), startTestStandalone({ LOGIN_CONFIRMATION: 'scan' })]);
    relay = await startRelay(new URL(app.url));
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await relay?.close();
    await app?.close();
  });

  async function open(): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-US' });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(relay.url);
    // Every state the widget shows, in order (a short `offline` is easy to miss by polling).
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { seenStates: string[] }).seenStates = seen;
      new MutationObserver(() => seen.push(document.body.dataset.state ?? '')).observe(document.body, {
        attributes: true,
        attributeFilter: ['data-state'],
      });
    });
    return page;
  }

  /** How often the page came back (`offline`, then `pending` again). */
  const comebacks = async (page: Page): Promise<number> => {
    const seen = await page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates);
    return seen.filter((state, i) => state === 'pending' && seen[i - 1] === 'offline').length;
  };

  it("stays on its ticket through three cuts in a row, its own dead sockets' places given to the new ones, and signs in", async () => {
    const page = await open();
    const { ticket } = await shownTicket(page);
    await expect.poll(() => page.locator('body').getAttribute('data-state')).toBe('pending');
    const created = await ticketsCreated(app.metricsUrl);

    for (let cut = 1; cut <= 3; cut++) {
      relay.cut();
      await eventually(async () => (await comebacks(page)) === cut, 20_000, `the page to come back after cut ${cut}`);
    }
    // Each dead socket was named by the next one and disconnected then, long before its ping timeout.
    await eventually(() => app.gateway.socketCount === 1, 10_000, 'the dead sockets to be disconnected');

    await scan(app.url, { scene: ticket, openid: 'o_dead_connections' });
    await expect.poll(() => statusLine(page).textContent(), { timeout: 20_000 }).toBe('Signed in as o_dead_connections');
    expect((await shownTicket(page)).ticket).toBe(ticket);
    expect(await ticketsCreated(app.metricsUrl)).toBe(created);
  }, 120_000);
});
