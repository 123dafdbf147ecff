/**
 * WeChat's re-send after a webhook died mid-scan (issue 9 item 1). A process may die between any two store
 * commands: an engine wrapper lets the first `k` commands through and then fails (or hangs) every later one,
 * as a SIGKILLed process would, leaving whatever marks it had written. A fresh handler on the same store then
 * gets WeChat's re-send of the same push. For every `k`, on the memory engine and on a private redis-server:
 * the re-send logs the browser in exactly once (the ticket is confirmed and its doorbell rings), the login is
 * never counted twice, and a further re-send gets the same reply without any work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleScanEvent, type PushedMessage, type ScanEventDeps, type ScanEventResult } from '../../apps/webhook/scan-event.js';
import {
  createMemoryEngine,
  createRedisClients,
  createRedisEngine,
  type Engine,
  type RedisClients,
  type TicketChange,
} from '../../libs/engine/index.js';
import { createLoginService } from '../../libs/login/index.js';
import { createLogger, createMetrics } from '../../libs/observability/index.js';
import { loginCountKey, newSecret, newTicket, newTicketId, type ConfirmationMode, type Ticket } from '../../libs/ticket/index.js';
import { eventually } from '../support/engine-contract.js';
import { APP_ID } from '../support/fixtures.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';

/** Short lease, so a dead worker's delivery is free again quickly (production: 3 s). */
const LEASE_MS = 150;
const logger = createLogger({ app: 'test', level: 'silent' });

type Death = 'throw' | 'hang';

/** `real`, except that after `allowed` store commands every further one fails (`throw`) or never answers (`hang`). */
function dyingAfter(real: Engine, allowed: number, death: Death): { engine: Engine; calls(): number } {
  let calls = 0;
  const step =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      calls += 1;
      if (calls > allowed) return death === 'throw' ? Promise.reject(new Error('killed')) : new Promise<R>(() => undefined);
      return fn(...args);
    };
  const engine: Engine = {
    ...real,
    tickets: { create: step(real.tickets.create), get: step(real.tickets.get), apply: step(real.tickets.apply) },
    events: { ...real.events, publish: step(real.events.publish) },
    kv: {
      get: step(real.kv.get),
      set: step(real.kv.set),
      setIfAbsent: step(real.kv.setIfAbsent),
      delete: step(real.kv.delete),
      increment: step(real.kv.increment),
      addToSet: step(real.kv.addToSet),
      setMembers: step(real.kv.setMembers),
      addExpiring: step(real.kv.addExpiring),
      expiringMembers: step(real.kv.expiringMembers),
      removeExpiring: step(real.kv.removeExpiring),
      setIfAbsentOrGet: step(real.kv.setIfAbsentOrGet),
      claimDelivery: step(real.kv.claimDelivery),
      settleDelivery: step(real.kv.settleDelivery),
      releaseDelivery: step(real.kv.releaseDelivery),
    },
  };
  return { engine, calls: () => calls };
}

/** One webhook process's scan handler over `engine`. */
function handler(engine: Engine, mode: ConfirmationMode): ScanEventDeps {
  return {
    login: createLoginService({ engine, metrics: createMetrics(), logger, ringBackoffMs: 1 }),
    kv: engine.kv,
    logger,
    confirmation: mode,
    appId: APP_ID,
    now: Date.now,
    marks: { leaseMs: LEASE_MS, pollMs: 10 },
  };
}

const scanPush = (ticket: Ticket, openid: string): PushedMessage => ({
  ToUserName: 'gh_test',
  FromUserName: openid,
  CreateTime: String(Math.floor(Date.now() / 1000)),
  MsgType: 'event',
  Event: 'SCAN',
  EventKey: ticket.id,
  Ticket: ticket.qr.wechatTicket,
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Backend {
  name: string;
  start(): Promise<{ engine: Engine; stop(): Promise<void> }>;
}

const backends: Backend[] = [
  {
    name: 'memory',
    async start() {
      const engine = createMemoryEngine();
      return { engine, stop: () => engine.close() };
    },
  },
  {
    name: 'redis',
    async start() {
      const server: RedisServerHandle = await startRedisServer();
      const clients: RedisClients = createRedisClients({ url: server.url });
      const engine = createRedisEngine({ client: clients.client, subscriber: clients.subscriber });
      return {
        engine,
        async stop() {
          await engine.close();
          await clients.quit();
          await server.stop();
        },
      };
    },
  },
];

for (const backend of backends) {
  describe(`a scan push re-sent after the webhook died (${backend.name})`, () => {
    let engine: Engine;
    let stop: () => Promise<void>;
    const unsubscribes: (() => unknown)[] = [];

    beforeAll(async () => {
      ({ engine, stop } = await backend.start());
    });
    afterAll(async () => {
      for (const unsubscribe of unsubscribes) await unsubscribe();
      await stop?.();
    });

    async function pendingTicket(): Promise<{ ticket: Ticket; rings: TicketChange[] }> {
      const id = newTicketId();
      const ticket = newTicket({
        id,
        secret: newSecret(),
        qr: { url: `http://weixin.qq.com/q/${id}`, wechatTicket: `gQ-${id}`, appId: APP_ID },
        browser: { userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0', ip: '203.0.113.7' },
        now: Date.now(),
        ttlSeconds: 120,
      });
      await engine.tickets.create(ticket);
      const rings: TicketChange[] = [];
      unsubscribes.push(engine.events.onRing((change) => change.ticket === id && rings.push(change)) as () => void);
      await engine.events.subscribe(id);
      unsubscribes.push(() => engine.events.unsubscribe(id));
      return { ticket, rings };
    }

    /** How many store commands one clean handling of a first delivery takes. */
    async function stepsOfCleanRun(mode: ConfirmationMode): Promise<number> {
      const { ticket } = await pendingTicket();
      const counting = dyingAfter(engine, Number.POSITIVE_INFINITY, 'throw');
      await handleScanEvent(handler(counting.engine, mode), scanPush(ticket, 'o_counting'));
      return counting.calls();
    }

    const cases: { mode: ConfirmationMode; death: Death }[] = [
      { mode: 'scan', death: 'throw' },
      { mode: 'scan', death: 'hang' },
      { mode: 'tap', death: 'throw' },
    ];
    for (const { mode, death } of cases) {
      it(`${mode} mode, the process ${death === 'throw' ? 'fails' : 'freezes'} after each step: the re-send logs in once`, async () => {
        const steps = await stepsOfCleanRun(mode);
        // The first delivery claims its marks (one atomic look: answer or lease), moves the ticket and rings,
        // (counts,) and settles its marks (answer and lease in one step).
        expect(steps).toBeGreaterThanOrEqual(mode === 'scan' ? 5 : 4);
        const finalStatus = mode === 'scan' ? 'confirmed' : 'scanned';
        for (let k = 0; k <= steps; k++) {
          const { ticket, rings } = await pendingTicket();
          const openid = `o_${mode}_${death}_${k}`;
          const push = scanPush(ticket, openid);

          const dying = dyingAfter(engine, k, death);
          const first = handleScanEvent(handler(dying.engine, mode), push);
          // A failing process may still answer (503, or the reply when only the last clean-up failed); a
          // frozen one never does. Either way only its store commands up to `k` happened.
          if (death === 'throw') await first.catch(() => undefined);
          if (death === 'hang' && k >= steps) await first;
          // WeChat re-sends about 5 s later; the dead worker's lease (3 s in production) has lapsed by then.
          await sleep(LEASE_MS + 50);

          const resent = await handleScanEvent(handler(engine, mode), push);

          expect(['ok', 'duplicate'], `k=${k}`).toContain(resent.kind);
          expect(resent.reply, `k=${k}`).toEqual(expect.any(String));
          const stored = await engine.tickets.get(ticket.id);
          expect(stored?.status, `k=${k}`).toBe(finalStatus);
          expect(stored?.openid, `k=${k}`).toBe(openid);
          expect(stored?.version, `k=${k}`).toBe(2);
          // The browser's doorbell rang for the new state (perhaps twice: harmless, one version).
          await eventually(() => rings.some((ring) => ring.version === 2));
          expect(
            rings.every((ring) => ring.version === 2),
            `k=${k}`,
          ).toBe(true);
          const count = await engine.kv.get(loginCountKey(openid));
          expect(Number(count ?? '0'), `k=${k}: never counted twice`).toBeLessThanOrEqual(1);

          // A further re-send: the same answer, nothing redone.
          const again: ScanEventResult = await handleScanEvent(handler(engine, mode), push);
          expect(again.kind, `k=${k}`).toBe('duplicate');
          expect(again.reply, `k=${k}`).toBe(resent.reply);
          expect((await engine.tickets.get(ticket.id))?.version, `k=${k}`).toBe(2);
          expect(await engine.kv.get(loginCountKey(openid)), `k=${k}`).toBe(count);
        }
      }, 60_000);
    }

    it('a delivery whose handling finished is answered from its mark, even by another process', async () => {
      const { ticket, rings } = await pendingTicket();
      const push = scanPush(ticket, 'o_finished');
      const first = await handleScanEvent(handler(engine, 'scan'), push);
      const resent = await handleScanEvent(handler(engine, 'scan'), push);

      expect(first.kind).toBe('ok');
      expect(resent).toEqual({ kind: 'duplicate', ticketId: ticket.id, reply: first.reply });
      expect(await engine.kv.get(loginCountKey('o_finished'))).toBe('1');
      await eventually(() => rings.length > 0);
      await sleep(50);
      expect(rings).toEqual([{ ticket: ticket.id, version: 2 }]);
    });

    it('two deliveries at the same moment log in once and get the same reply', async () => {
      const { ticket, rings } = await pendingTicket();
      const push = scanPush(ticket, 'o_twice');

      const [one, two] = await Promise.all([
        handleScanEvent(handler(engine, 'scan'), push),
        handleScanEvent(handler(engine, 'scan'), push),
      ]);

      expect([one.kind, two.kind].sort()).toEqual(['duplicate', 'ok']);
      expect(one.reply).toBe(two.reply);
      expect(one.reply).toMatch(/第 1 次/);
      expect(await engine.kv.get(loginCountKey('o_twice'))).toBe('1');
      await eventually(() => rings.length > 0);
      await sleep(50);
      expect(rings).toEqual([{ ticket: ticket.id, version: 2 }]);
    });

    it('two scanners at the same moment: one logs in and is counted, the other is refused and not counted', async () => {
      const { ticket } = await pendingTicket();
      // Both read `pending` before either writes, so on Redis one compare-and-set loses (its count, sent with
      // the write, is taken back) and its retry is refused.
      const results = await Promise.all(
        ['o_first', 'o_second'].map((openid) => handleScanEvent(handler(engine, 'scan'), scanPush(ticket, openid))),
      );

      expect(results.map((result) => result.kind).sort()).toEqual(['ok', 'refused']);
      const winner = (await engine.tickets.get(ticket.id))?.openid;
      const loser = winner === 'o_first' ? 'o_second' : 'o_first';
      expect(await engine.kv.get(loginCountKey(winner ?? ''))).toBe('1');
      await eventually(async () => Number((await engine.kv.get(loginCountKey(loser))) ?? '0') === 0);
      await sleep(50);
      expect(Number((await engine.kv.get(loginCountKey(loser))) ?? '0')).toBe(0);
    });
  });
}
