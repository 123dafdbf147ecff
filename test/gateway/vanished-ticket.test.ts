/**
 * A ticket the store no longer has can never log in, so its browser is told `status expired` at once (and the
 * client's auto-refresh shows a new QR code) instead of waiting on a dead QR code for its countdown
 * (issue 9 item 2). Checked with a real redis-server restarted without persistence while browsers wait (the
 * gateway's bus resync finds every ticket gone), and with a doorbell for a ticket that was deleted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { LoginBrowser } from '../support/login-browser.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { startTestStandalone } from '../support/standalone.js';

describe('a waiting browser whose ticket vanished from the store', () => {
  let redis: RedisServerHandle;
  let app: Standalone;
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    app = await startTestStandalone({ REDIS_URL: redis.url, LOGIN_CONFIRMATION: 'scan' });
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    await app?.close();
    await redis?.stop();
  });

  async function waiting(count: number): Promise<LoginBrowser[]> {
    const opened = await Promise.all(Array.from({ length: count }, () => LoginBrowser.open(app.url)));
    browsers.push(...opened);
    await Promise.all(opened.map((browser) => browser.waitFor('status', (s) => s.status === 'pending')));
    return opened;
  }

  it('is told expired when the ticket is deleted and its doorbell rings', async () => {
    const [browser] = await waiting(1);
    const { ticket } = browser!.ticket;
    const raw = new Redis(redis.url);
    try {
      expect(await raw.del(`qrgate:{${ticket}}:ticket`)).toBe(1);
    } finally {
      raw.disconnect();
    }
    // Any ring (here an unrelated process re-announcing version 1) makes the gateway read the store.
    await app.engine.events.publish({ ticket, version: 1 });

    const status = await browser!.waitFor('status', (s) => s.status === 'expired', 5_000);
    expect(status.ticket).toBe(ticket);
  });

  it('is told expired, and never shown the code, when the store lost its new ticket before the gateway subscribed', async () => {
    const tickets = app.engine.tickets;
    const create = tickets.create.bind(tickets);
    const raw = new Redis(redis.url);
    const socket = io(`${app.url}/login`, { transports: ['websocket'], forceNew: true, reconnection: false, autoConnect: false });
    try {
      // Once: the ticket is stored, then Redis loses everything and the bus reconnects (and resyncs) before
      // the gateway has subscribed to the ticket, so no resync covers it.
      tickets.create = async (ticket) => {
        tickets.create = create;
        await create(ticket);
        const resynced = new Promise<void>((resolve) => {
          const stop = app.engine.events.onResync(() => {
            stop();
            resolve();
          });
        });
        await raw.flushall();
        await raw.client('KILL', 'TYPE', 'pubsub');
        await resynced;
      };
      const heard: string[] = [];
      const expired = new Promise<void>((resolve) => {
        socket.onAny((event: string, payload: { status?: string }) => {
          heard.push(event === 'status' ? `status ${payload.status}` : event);
          if (payload.status === 'expired') resolve();
        });
      });
      socket.connect();
      // Without a deadline a browser shown the dead code would only fail the test at vitest's timeout.
      await Promise.race([expired, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      expect(heard).toEqual(['status expired']);
    } finally {
      tickets.create = create;
      socket.close();
      raw.disconnect();
    }
  });

  it('every waiting browser is told expired right after Redis restarts empty, long before its QR code would expire', async () => {
    const opened = await waiting(5);
    const expiresAt = Math.min(...opened.map((browser) => browser.ticket.expiresAt));

    await redis.restart();

    for (const browser of opened) {
      const status = await browser.waitFor('status', (s) => s.status === 'expired' && s.ticket === browser.ticket.ticket, 15_000);
      expect(status.ticket).toBe(browser.ticket.ticket);
    }
    expect(Date.now()).toBeLessThan(expiresAt);
    // Told once each: a later resync finds the ticket still gone and says nothing new.
    for (const browser of opened) expect(browser.statuses().filter((s) => s === 'expired')).toHaveLength(1);
  }, 30_000);
});
