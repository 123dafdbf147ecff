/**
 * Logins that must survive the awkward moments: a doorbell rung while the gateway's bus connection was down,
 * a refresh racing another refresh, and a browser that leaves while its refresh is still being served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { Standalone } from '../../apps/standalone/standalone.js';
import type { RefreshAck } from '../../libs/protocol/index.js';
import { newLoginCode, transition } from '../../libs/ticket/index.js';
import { eventually } from '../support/engine-contract.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { startTestStandalone } from '../support/standalone.js';

describe('resilience on Redis', () => {
  let redis: RedisServerHandle;
  let raw: Redis;
  let app: Standalone;
  beforeAll(async () => {
    redis = await startRedisServer();
    raw = new Redis(redis.url);
    app = await startTestStandalone({ REDIS_URL: redis.url, LOGIN_CONFIRMATION: 'scan' });
  });
  afterAll(async () => {
    await app?.close();
    raw?.disconnect();
    await redis?.stop();
  });

  const shardChannels = async (): Promise<string[]> => (await raw.call('PUBSUB', 'SHARDCHANNELS', 'qrgate:*')) as string[];

  it("delivers a login whose doorbell rang while the gateway's bus connection was down", async () => {
    const browser = await LoginBrowser.open(app.url);
    try {
      const { ticket } = browser.ticket;
      // Another process (a webhook) confirms the ticket while this gateway's subscriber is reconnecting.
      await raw.client('KILL', 'TYPE', 'pubsub');
      const result = await app.engine.tickets.apply(ticket, (t) =>
        transition(t, { type: 'scan', openid: 'o_lost_ring', at: Date.now(), mode: 'scan', code: newLoginCode(t.id) }),
      );
      expect(result.ok).toBe(true);
      const heard = await raw.spublish(`qrgate:{${ticket}}:changes`, JSON.stringify({ ticket, status: 'confirmed', version: 2 }));
      expect(heard).toBe(0); // nobody was listening: this ring is lost for good
      const login = await browser.waitFor('login');
      expect((await browser.exchange(login.code)).body.openid).toBe('o_lost_ring');
    } finally {
      browser.close();
    }
  });

  it('leaves no subscription behind when the browser goes while its refresh is being served', async () => {
    await eventually(async () => (await shardChannels()).length === 0);
    for (let i = 0; i < 5; i++) {
      const browser = await LoginBrowser.open(app.url);
      browser.socket.emit('refresh', () => undefined);
      browser.close();
    }
    await eventually(async () => (await shardChannels()).length === 0);
  });
});

describe('refresh races', () => {
  let app: Standalone;
  beforeAll(async () => {
    app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan' });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers two overlapping refreshes with one new ticket, and that ticket logs in', async () => {
    const browser = await LoginBrowser.open(app.url);
    try {
      const first = browser.ticket.ticket;
      const [a, b] = await Promise.all([browser.refresh(), browser.refresh()]);
      const ticketOf = (ack: RefreshAck): string => ('ticket' in ack ? ack.ticket : `error ${ack.error.code}`);
      expect(ticketOf(a)).toBe(ticketOf(b));
      expect(ticketOf(a)).not.toBe(first);
      await scan(app.url, { scene: ticketOf(a), openid: 'o_refresh_race' });
      const login = await browser.waitFor('login');
      expect(login.ticket).toBe(ticketOf(a));
    } finally {
      browser.close();
    }
  });
});
