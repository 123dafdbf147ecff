/**
 * The engine contract (see `libs/engine/engine.ts`) as one vitest suite, run against every implementation.
 * Each suite gets two engines over one backing store, standing for two processes, so what crosses processes
 * (the store, the bus, the counters) is checked across them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisClients,
  createRedisEngine,
  type Engine,
  type EngineObserver,
  type RedisClients,
  type RedisClientsOptions,
  type TicketChange,
} from '../../libs/engine/index.js';
import { newLoginCode, newSecret, newTicket, newTicketId, transition, type Ticket, type TicketEvent } from '../../libs/ticket/index.js';

/** Two engines on one store, and how to tear them (and their store) down. */
export interface EngineContractFixture {
  /**
   * Engine A and engine B. The same instance twice means one process (the memory engine); the suite then
   * expects that process to count what either engine would have counted.
   */
  engines: [Engine, Engine];
  cleanup(): Promise<void>;
}

/**
 * Builds the fixture. `engines[i]` must report to `observers[i]`; a fixture that uses one instance for both
 * passes it `observers[0]`.
 */
export type EngineContractSetup = (observers: [EngineObserver, EngineObserver]) => Promise<EngineContractFixture>;

/** Declare the contract suite for one engine implementation. */
export function engineContract(name: string, setup: EngineContractSetup): void {
  describe(`engine contract: ${name}`, () => {
    const received = [0, 0];
    const observers: [EngineObserver, EngineObserver] = [
      { busMessageReceived: () => void received[0]!++ },
      { busMessageReceived: () => void received[1]!++ },
    ];
    let fixture: EngineContractFixture | undefined;
    let a: Engine;
    let b: Engine;
    let oneProcess: boolean;

    beforeAll(async () => {
      fixture = await setup(observers);
      [a, b] = fixture.engines;
      oneProcess = a === b;
    });
    afterAll(async () => {
      await fixture?.cleanup();
    });

    /** Bus messages counted since `start` by each process: [A, B], or [both] when they are one. */
    const countsSince = (start: number[]): number[] =>
      oneProcess ? [received[0]! - start[0]!] : [received[0]! - start[0]!, received[1]! - start[1]!];
    const perProcess = (forA: number, forB: number): number[] => (oneProcess ? [forA + forB] : [forA, forB]);

    describe('tickets', () => {
      it('returns a created ticket from either engine', async () => {
        const ticket = aTicket();
        await a.tickets.create(ticket);
        expect(await a.tickets.get(ticket.id)).toEqual(ticket);
        expect(await b.tickets.get(ticket.id)).toEqual(ticket);
      });

      it('rejects a second ticket with the same id and keeps the first', async () => {
        const ticket = aTicket();
        await a.tickets.create(ticket);
        await expect(b.tickets.create({ ...ticket, browser: { userAgent: 'other', ip: '10.0.0.1' } })).rejects.toThrow();
        expect(await a.tickets.get(ticket.id)).toEqual(ticket);
      });

      it('returns null for an unknown id', async () => {
        expect(await a.tickets.get(newTicketId())).toBeNull();
      });

      it('answers not_found when applying to an unknown ticket', async () => {
        const result = await a.tickets.apply(newTicketId(), (t) => transition(t, { type: 'expire', at: Date.now() }));
        expect(result).toEqual({ ok: false, reason: 'not_found' });
      });

      it('lets exactly one of many concurrent scans from two processes win', async () => {
        const ticket = aTicket();
        await a.tickets.create(ticket);
        const scans = Array.from({ length: 30 }, (_, i) => {
          const event: TicketEvent = {
            type: 'scan',
            openid: `openid-${i}`,
            at: Date.now(),
            mode: 'scan',
            code: newLoginCode(ticket.id),
          };
          return (i % 2 === 0 ? a : b).tickets.apply(ticket.id, (t) => transition(t, event));
        });
        const results = await Promise.all(scans);

        const winners = results.filter((r) => r.ok && r.changed);
        expect(winners).toHaveLength(1);
        const losers = results.filter((r) => !(r.ok && r.changed));
        expect(losers.every((r) => !r.ok && r.reason === 'already_scanned')).toBe(true);

        const winner = winners[0];
        if (winner === undefined || !winner.ok) throw new Error('no scan won');
        const stored = await b.tickets.get(ticket.id);
        expect(stored).toEqual(winner.ticket);
        expect(stored).toMatchObject({ status: 'confirmed', version: ticket.version + 1 });
      });

      it('loses no update when every concurrent transition changes the ticket', async () => {
        const ticket = aTicket();
        await a.tickets.create(ticket);
        // Each writer must land on top of the others' work: a conflicting write is retried on the fresh ticket.
        const bump = (t: Ticket) => ({ ok: true as const, changed: true, ticket: { ...t, version: t.version + 1 } });
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).tickets.apply(ticket.id, bump)));
        expect(results.every((r) => r.ok && r.changed)).toBe(true);
        expect(await a.tickets.get(ticket.id)).toMatchObject({ version: ticket.version + 10 });
      });

      it('writes nothing when the transition refuses or changes nothing', async () => {
        const ticket = aTicket();
        await a.tickets.create(ticket);
        const refused = await b.tickets.apply(ticket.id, (t) =>
          transition(t, { type: 'confirm', openid: 'o', at: Date.now(), code: newLoginCode(ticket.id) }),
        );
        expect(refused).toMatchObject({ ok: false, reason: 'not_scanned' });
        const unchanged = await b.tickets.apply(ticket.id, (t) => transition(t, { type: 'expire', at: Date.now() }));
        expect(unchanged).toMatchObject({ ok: true, changed: false });
        expect(await a.tickets.get(ticket.id)).toEqual(ticket);
      });

      it('redeems a login code once, and only with the right secret', async () => {
        const secret = newSecret();
        const ticket = aTicket({ secret });
        const code = newLoginCode(ticket.id);
        await a.tickets.create(ticket);
        const confirmed = await a.tickets.apply(ticket.id, (t) =>
          transition(t, { type: 'scan', openid: 'o-1', at: Date.now(), mode: 'scan', code }),
        );
        expect(confirmed).toMatchObject({ ok: true, changed: true, ticket: { status: 'confirmed', code } });
        const before = await a.tickets.get(ticket.id);

        const consume = (engine: Engine, withCode: string, withSecret: string) =>
          engine.tickets.apply(ticket.id, (t) => transition(t, { type: 'consume', code: withCode, secret: withSecret, at: Date.now() }));

        expect(await consume(b, code, newSecret())).toMatchObject({ ok: false, reason: 'secret_mismatch' });
        expect(await consume(b, newLoginCode(ticket.id), secret)).toMatchObject({ ok: false, reason: 'code_mismatch' });
        expect(await a.tickets.get(ticket.id)).toEqual(before);

        expect(await consume(b, code, secret)).toMatchObject({ ok: true, changed: true, ticket: { status: 'consumed' } });
        expect(await consume(a, code, secret)).toMatchObject({ ok: false, reason: 'already_consumed' });
        expect(await a.tickets.get(ticket.id)).toMatchObject({ status: 'consumed', version: ticket.version + 2 });
      });

      it('forgets a ticket once its retention has passed', async () => {
        // A pending ticket is retained until a short grace after it expires: here 1.5 s + 5 s.
        const ticket = aTicket({ ttlSeconds: 1.5 });
        await a.tickets.create(ticket);
        expect(await b.tickets.get(ticket.id)).not.toBeNull();
        await eventually(async () => (await b.tickets.get(ticket.id)) === null);
        expect(await a.tickets.get(ticket.id)).toBeNull();
        expect(await a.tickets.apply(ticket.id, (t) => transition(t, { type: 'expire', at: Date.now() }))).toEqual({
          ok: false,
          reason: 'not_found',
        });
      });
    });

    describe('event bus', () => {
      /** Every doorbell `engine`'s process hears, from now on (one process: both engines' share one list). */
      const rings = (engine: Engine): { of(ticket: string): TicketChange[]; stop(): void } => {
        const heard: TicketChange[] = [];
        const stop = engine.events.onRing((change) => heard.push(change));
        return { of: (ticket) => heard.filter((change) => change.ticket === ticket), stop };
      };

      it('delivers a ring published by one process to a subscriber in the other', async () => {
        const id = newTicketId();
        const onB = rings(b);
        const start = [...received];
        await b.events.subscribe(id);
        const change: TicketChange = { ticket: id, version: 2 };
        await a.events.publish(change);
        await eventually(() => onB.of(id).length === 1);
        expect(onB.of(id)).toEqual([change]);
        // A holds no subscription, so only B heard the doorbell.
        expect(countsSince(start)).toEqual(perProcess(0, 1));
        await b.events.unsubscribe(id);
        onB.stop();
      });

      it('carries only the ticket and its version, whatever else the publisher passes', async () => {
        const id = newTicketId();
        const onB = rings(b);
        await b.events.subscribe(id);
        // A newer writer may know a status this code does not: the doorbell must still ring.
        await a.events.publish({ ticket: id, version: 7, status: 'flying' } as TicketChange);
        await eventually(() => onB.of(id).length === 1);
        expect(onB.of(id)).toEqual([{ ticket: id, version: 7 }]);
        await b.events.unsubscribe(id);
        onB.stop();
      });

      it('rings from onWrite right behind the write: the other process reads the new version when it hears it', async () => {
        const ticket = aTicket();
        await a.tickets.create(ticket);
        await b.events.subscribe(ticket.id);
        const readOnRing: (number | undefined)[] = [];
        const stop = b.events.onRing((change) => {
          if (change.ticket === ticket.id) void b.tickets.get(change.ticket).then((t) => readOnRing.push(t?.version));
        });
        const written: Ticket[] = [];
        const scan: TicketEvent = { type: 'scan', openid: 'o_ring', at: Date.now(), mode: 'scan', code: newLoginCode(ticket.id) };
        const result = await a.tickets.apply(ticket.id, (t) => transition(t, scan), {
          onWrite: (changed) => {
            written.push(changed);
            void a.events.publish({ ticket: changed.id, version: changed.version });
          },
        });

        expect(result).toMatchObject({ ok: true, changed: true });
        // Once, with the written ticket, even on a store that has never run the write's script before.
        expect(written.map((t) => [t.status, t.version])).toEqual([['confirmed', 2]]);
        await eventually(() => readOnRing.length === 1);
        expect(readOnRing).toEqual([2]);
        // Nothing changed, nothing written: onWrite is not called.
        const again = await a.tickets.apply(ticket.id, (t) => transition(t, scan), { onWrite: (changed) => written.push(changed) });
        expect(again).toMatchObject({ ok: true, changed: false });
        expect(written).toHaveLength(1);
        stop();
        await b.events.unsubscribe(ticket.id);
      });

      it('sends nothing to a process that is not subscribed to the ticket', async () => {
        const x = newTicketId();
        const y = newTicketId();
        const onA = rings(a);
        const onB = rings(b);
        const start = [...received];
        // A listens to another ticket, so its subscriber connection is live: it must still not hear x.
        await a.events.subscribe(y);
        await b.events.subscribe(x);

        await a.events.publish({ ticket: x, version: 2 });
        await b.events.publish({ ticket: x, version: 3 });
        await b.events.publish({ ticket: y, version: 2 });
        await eventually(() => onB.of(x).length === 2 && onA.of(y).length === 1);
        await settle();

        expect(onB.of(x).map((c) => c.version)).toEqual([2, 3]);
        expect(onA.of(y)).toEqual([{ ticket: y, version: 2 }]);
        if (!oneProcess) {
          expect(onA.of(x)).toEqual([]);
          expect(onB.of(y)).toEqual([]);
        }
        expect(countsSince(start)).toEqual(perProcess(1, 2));
        await Promise.all([a.events.unsubscribe(y), b.events.unsubscribe(x)]);
        onA.stop();
        onB.stop();
      });

      it('stops delivering a ticket once it is unsubscribed', async () => {
        const x = newTicketId();
        const z = newTicketId();
        const onB = rings(b);
        const start = [...received];
        await b.events.subscribe(x);
        await b.events.subscribe(z);
        await a.events.publish({ ticket: x, version: 2 });
        await eventually(() => onB.of(x).length === 1);

        await b.events.unsubscribe(x);
        await b.events.unsubscribe(x); // unsubscribing twice is harmless
        await a.events.publish({ ticket: x, version: 3 });
        // Once z's later message is in, and a moment more has passed, a stray x message would have arrived.
        await a.events.publish({ ticket: z, version: 2 });
        await eventually(() => onB.of(z).length === 1);
        await settle();

        expect(onB.of(x)).toEqual([{ ticket: x, version: 2 }]);
        expect(countsSince(start)).toEqual(perProcess(0, 2));
        await b.events.unsubscribe(z);
        onB.stop();
      });

      it('does not count subscribers: subscribing twice is one subscription, one message, ended by one unsubscribe', async () => {
        const id = newTicketId();
        const first = rings(b);
        const second = rings(b);
        const start = [...received];
        await b.events.subscribe(id);
        await b.events.subscribe(id);
        await a.events.publish({ ticket: id, version: 2 });
        // Every ring listener of the process hears it; the process got one message.
        await eventually(() => first.of(id).length === 1 && second.of(id).length === 1);
        await settle();
        expect(countsSince(start)).toEqual(perProcess(0, 1));

        await b.events.unsubscribe(id);
        await a.events.publish({ ticket: id, version: 3 });
        await settle();
        await settle();
        expect(first.of(id)).toHaveLength(1);
        expect(countsSince(start)).toEqual(perProcess(0, 1));
        first.stop();
        second.stop();
      });
    });

    describe('key-value store', () => {
      it('sets, reads and deletes values across processes', async () => {
        const key = `k-${newTicketId()}`;
        expect(await a.kv.get(key)).toBeNull();
        await a.kv.set(key, 'one', 60_000);
        expect(await b.kv.get(key)).toBe('one');
        await b.kv.set(key, 'two', 60_000);
        expect(await a.kv.get(key)).toBe('two');
        await a.kv.delete(key);
        expect(await b.kv.get(key)).toBeNull();
        await b.kv.delete(key); // deleting a missing key is harmless
      });

      it('sets a value only if absent, once', async () => {
        const key = `lock-${newTicketId()}`;
        const attempts = await Promise.all([
          a.kv.setIfAbsent(key, 'a', 60_000),
          b.kv.setIfAbsent(key, 'b', 60_000),
          a.kv.setIfAbsent(key, 'c', 60_000),
        ]);
        expect(attempts.filter(Boolean)).toHaveLength(1);
        const winner = ['a', 'b', 'c'][attempts.indexOf(true)];
        expect(await b.kv.get(key)).toBe(winner);
      });

      it('forgets a value after its TTL', async () => {
        const key = `ttl-${newTicketId()}`;
        await a.kv.set(key, 'v', 300);
        await eventually(async () => (await b.kv.get(key)) === null);
        expect(await b.kv.setIfAbsent(key, 'again', 300)).toBe(true);
        await eventually(async () => (await a.kv.get(key)) === null);
      });

      it('counts from both processes', async () => {
        const key = `counter-${newTicketId()}`;
        expect(await a.kv.increment(key)).toBe(1);
        expect(await b.kv.increment(key)).toBe(2);
        const more = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).kv.increment(key)));
        expect([...more].sort((x, y) => x - y)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        expect(await a.kv.get(key)).toBe('12');
      });

      it('sets a value if absent or returns the one there, atomically, across processes', async () => {
        const key = `mark-${newTicketId()}`;
        const answers = await Promise.all([
          a.kv.setIfAbsentOrGet(key, 'a', 60_000),
          b.kv.setIfAbsentOrGet(key, 'b', 60_000),
          a.kv.setIfAbsentOrGet(key, 'c', 60_000),
        ]);
        const first = answers.indexOf(null);
        expect(answers.filter((answer) => answer === null)).toHaveLength(1);
        const winner = ['a', 'b', 'c'][first];
        expect(answers.filter((answer) => answer !== null)).toEqual([winner, winner]);
        expect(await b.kv.get(key)).toBe(winner);
        const lapsing = `mark-${newTicketId()}`;
        expect(await a.kv.setIfAbsentOrGet(lapsing, 'x', 300)).toBeNull();
        await eventually(async () => (await b.kv.get(lapsing)) === null);
        expect(await b.kv.setIfAbsentOrGet(lapsing, 'y', 60_000)).toBeNull();
      });

      it('gives a counter a sliding TTL when asked, and keeps its count meanwhile', async () => {
        const key = `counter-${newTicketId()}`;
        expect(await a.kv.increment(key, 600)).toBe(1);
        expect(await b.kv.increment(key, 600)).toBe(2);
        expect(await a.kv.get(key)).toBe('2');
        await eventually(async () => (await b.kv.get(key)) === null);
        expect(await a.kv.increment(key, 60_000)).toBe(1);
        await a.kv.delete(key);
      });

      it('adds any whole amount to a counter, taking away with a negative one, with or without a TTL', async () => {
        const key = `counter-${newTicketId()}`;
        expect(await a.kv.increment(key, 60_000)).toBe(1);
        expect(await b.kv.increment(key, 60_000)).toBe(2);
        expect(await a.kv.increment(key, undefined, -1)).toBe(1);
        expect(await b.kv.increment(key, 60_000, 3)).toBe(4);
        expect(await a.kv.get(key)).toBe('4');
        await expect(a.kv.increment(key, undefined, 0.5)).rejects.toThrow(/by must be an integer/);
        await a.kv.delete(key);
      });

      it('claims a delivery once, answers it once settled, and frees it on release or when the lease lapses', async () => {
        const key = `delivery-${newTicketId()}`;
        const claims = await Promise.all([a.kv.claimDelivery(key, 60_000), b.kv.claimDelivery(key, 60_000)]);
        expect(claims.map((claim) => claim.kind).sort()).toEqual(['busy', 'claimed']);
        await (claims[0]!.kind === 'claimed' ? a : b).kv.releaseDelivery(key);
        expect(await b.kv.claimDelivery(key, 60_000)).toEqual({ kind: 'claimed' });
        await b.kv.settleDelivery(key, '{"reply":"ok"}', 60_000);
        // Settled: the answer for everyone, and the lease is gone with it.
        expect(await a.kv.claimDelivery(key, 60_000)).toEqual({ kind: 'done', answer: '{"reply":"ok"}' });
        expect(await b.kv.claimDelivery(key, 60_000)).toEqual({ kind: 'done', answer: '{"reply":"ok"}' });

        const abandoned = `delivery-${newTicketId()}`;
        expect(await a.kv.claimDelivery(abandoned, 300)).toEqual({ kind: 'claimed' });
        expect(await b.kv.claimDelivery(abandoned, 300)).toEqual({ kind: 'busy' });
        // A worker that died holding the lease: it lapses by itself.
        await eventually(async () => (await b.kv.claimDelivery(abandoned, 60_000)).kind === 'claimed');
        expect(await a.kv.claimDelivery(abandoned, 60_000)).toEqual({ kind: 'busy' });
      });

      it('refuses a TTL that is not positive', async () => {
        await expect(a.kv.set(`bad-${newTicketId()}`, 'v', 0)).rejects.toThrow(RangeError);
        await expect(a.kv.addToSet(`bad-${newTicketId()}`, 'm', 0)).rejects.toThrow(RangeError);
      });

      it('keeps a set written from both processes, without duplicates, until deleted', async () => {
        const key = `set-${newTicketId()}`;
        expect(await a.kv.setMembers(key)).toEqual([]);
        await Promise.all(['x', 'y', 'z', 'x'].map((m, i) => (i % 2 ? a : b).kv.addToSet(key, m, 60_000)));
        expect((await b.kv.setMembers(key)).sort()).toEqual(['x', 'y', 'z']);
        await a.kv.delete(key);
        expect(await b.kv.setMembers(key)).toEqual([]);
      });

      it('lets a set outlive its members: adding never shortens its life', async () => {
        const key = `set-${newTicketId()}`;
        await a.kv.addToSet(key, 'long', 60_000);
        await b.kv.addToSet(key, 'short', 300);
        await new Promise((r) => setTimeout(r, 600));
        expect((await a.kv.setMembers(key)).sort()).toEqual(['long', 'short']);
        const brief = `set-${newTicketId()}`;
        await b.kv.addToSet(brief, 'gone', 300);
        await eventually(async () => (await a.kv.setMembers(brief)).length === 0);
      });

      it('keeps an expiring set across processes: each member until its own end, earliest first', async () => {
        const key = `expiring-${newTicketId()}`;
        const t = Date.now();
        expect(await a.kv.expiringMembers(key, t)).toEqual([]);
        await Promise.all([
          a.kv.addExpiring(key, 'late', t + 30_000, t),
          b.kv.addExpiring(key, 'early', t + 10_000, t),
          a.kv.addExpiring(key, 'middle', t + 20_000, t),
          b.kv.addExpiring(key, 'late', t + 30_000, t),
        ]);
        expect(await b.kv.expiringMembers(key, t)).toEqual(['early', 'middle', 'late']);
        // Lapsed at a later now, and dropped for good: an earlier now does not bring it back.
        expect(await a.kv.expiringMembers(key, t + 10_000)).toEqual(['middle', 'late']);
        expect(await b.kv.expiringMembers(key, t)).toEqual(['middle', 'late']);
        // Adding drops the lapsed ones too.
        await b.kv.addExpiring(key, 'new', t + 40_000, t + 25_000);
        expect(await a.kv.expiringMembers(key, t)).toEqual(['late', 'new']);
        await a.kv.delete(key);
        expect(await b.kv.expiringMembers(key, t)).toEqual([]);
      });

      it('lets an expiring member keep the later of its two ends', async () => {
        const key = `expiring-${newTicketId()}`;
        const t = Date.now();
        await a.kv.addExpiring(key, 'm', t + 20_000, t);
        await b.kv.addExpiring(key, 'm', t + 10_000, t);
        expect(await a.kv.expiringMembers(key, t + 15_000)).toEqual(['m']);
        await b.kv.addExpiring(key, 'm', t + 50_000, t);
        expect(await a.kv.expiringMembers(key, t + 30_000)).toEqual(['m']);
      });

      it('takes members out of an expiring set, ignoring absent ones, and drops the emptied key', async () => {
        const key = `expiring-${newTicketId()}`;
        const t = Date.now();
        await a.kv.removeExpiring(key, ['nobody'], t);
        for (const member of ['x', 'y', 'z']) await a.kv.addExpiring(key, member, t + 60_000, t);
        await b.kv.removeExpiring(key, ['y', 'nobody'], t);
        expect(await a.kv.expiringMembers(key, t)).toEqual(['x', 'z']);
        await b.kv.removeExpiring(key, [], t);
        await a.kv.removeExpiring(key, ['x', 'z'], t);
        expect(await b.kv.expiringMembers(key, t)).toEqual([]);
        // Gone, not an empty husk: the key can be written afresh.
        await b.kv.addExpiring(key, 'again', t + 60_000, t);
        expect(await a.kv.expiringMembers(key, t)).toEqual(['again']);
      });

      it('keeps an expiring set as long as its latest member, and shortens that when it is taken out', async () => {
        const t = Date.now();
        const kept = `expiring-${newTicketId()}`;
        await a.kv.addExpiring(kept, 'long', t + 60_000, t);
        await b.kv.addExpiring(kept, 'short', t + 300, t);
        await new Promise((r) => setTimeout(r, 600));
        expect(await a.kv.expiringMembers(kept, Date.now())).toEqual(['long']);
        // Read at the stale `t`, only the store's own expiry of the key can empty it.
        const brief = `expiring-${newTicketId()}`;
        await b.kv.addExpiring(brief, 'gone', t + 300, t);
        await eventually(async () => (await a.kv.expiringMembers(brief, t)).length === 0);
        const shortened = `expiring-${newTicketId()}`;
        await a.kv.addExpiring(shortened, 'long', t + 60_000, t);
        await a.kv.addExpiring(shortened, 'short', t + 300, t);
        await b.kv.removeExpiring(shortened, ['long'], t);
        await eventually(async () => (await a.kv.expiringMembers(shortened, t)).length === 0);
      });

      it('refuses an expiring member that ends by now, and a now that is not a time', async () => {
        const key = `expiring-${newTicketId()}`;
        const t = Date.now();
        await expect(a.kv.addExpiring(key, 'm', t, t)).rejects.toThrow(RangeError);
        await expect(a.kv.addExpiring(key, 'm', t - 1, t)).rejects.toThrow(RangeError);
        await expect(a.kv.addExpiring(key, 'm', Number.NaN, t)).rejects.toThrow(RangeError);
        await expect(a.kv.addExpiring(key, 'm', t + 1_000, Number.NaN)).rejects.toThrow(RangeError);
        await expect(a.kv.expiringMembers(key, Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
        await expect(a.kv.removeExpiring(key, ['m'], Number.NaN)).rejects.toThrow(RangeError);
        expect(await a.kv.expiringMembers(key, t)).toEqual([]);
      });
    });

    describe('rate limiter', () => {
      it('allows the configured points, then refuses (a value, never a rejection)', async () => {
        const limiter = a.createRateLimiter({ keyPrefix: `rl-${newTicketId()}`, points: 3, durationSeconds: 60 });
        for (let i = 0; i < 3; i++) expect(await limiter.take('127.0.0.1')).toEqual({ ok: true });
        const refused = await limiter.take('127.0.0.1');
        expect(refused).toMatchObject({ ok: false });
        // The wait is what is left of the 60 s window.
        expect(refused.ok ? 0 : refused.retryAfterMs).toBeGreaterThan(0);
        expect(refused.ok ? Infinity : refused.retryAfterMs).toBeLessThanOrEqual(60_000);
        // Another key has its own budget.
        expect(await limiter.take('127.0.0.2')).toEqual({ ok: true });
      });
    });

    describe('leases', () => {
      it('admits at most `limit` holders across processes, renews a holder, and frees a released place', async () => {
        const key = `lease-${newTicketId()}`;
        expect(await a.leases.acquire(key, 'gw-a:1', 2, 60_000)).toBe(true);
        expect(await b.leases.acquire(key, 'gw-b:1', 2, 60_000)).toBe(true);
        // Full: a third holder is refused from either process, and the refusal changes nothing.
        expect(await a.leases.acquire(key, 'gw-a:2', 2, 60_000)).toBe(false);
        expect(await b.leases.acquire(key, 'gw-b:2', 2, 60_000)).toBe(false);
        // A holder renewing its own place is not a new holder.
        expect(await b.leases.acquire(key, 'gw-a:1', 2, 60_000)).toBe(true);
        await a.leases.release(key, 'gw-b:1');
        await a.leases.release(key, 'gw-b:1');
        expect(await b.leases.acquire(key, 'gw-b:2', 2, 60_000)).toBe(true);
        expect(await a.leases.acquire(key, 'gw-a:3', 2, 60_000)).toBe(false);
        // Another key has its own places.
        expect(await a.leases.acquire(`${key}-other`, 'gw-a:3', 2, 60_000)).toBe(true);
      });

      it("gives a named holder's place to its replacement, atomically; a name that holds none changes nothing", async () => {
        const key = `lease-${newTicketId()}`;
        expect(await a.leases.acquire(key, 'gw-a:1', 2, 60_000)).toBe(true);
        expect(await b.leases.acquire(key, 'gw-b:1', 2, 60_000)).toBe(true);
        // Full, but naming a holder: its place changes hands, from either process, and the count stays two.
        expect(await b.leases.replace(key, 'gw-a:1', 'gw-b:2', 2, 60_000)).toBe(true);
        expect(await a.leases.acquire(key, 'gw-a:3', 2, 60_000)).toBe(false);
        // The replaced holder is out: it cannot renew, nor replace its way back in by naming itself.
        expect(await a.leases.renew(key, 'gw-a:1', 60_000)).toBe(false);
        expect(await a.leases.replace(key, 'gw-a:1', 'gw-a:1', 2, 60_000)).toBe(false);
        // A name that holds no place (unknown, or replaced already) is a plain acquire: refused while full…
        expect(await a.leases.replace(key, 'nobody', 'gw-a:4', 2, 60_000)).toBe(false);
        expect(await a.leases.replace(key, 'gw-a:1', 'gw-a:4', 2, 60_000)).toBe(false);
        // …and admitted once a place is free, without touching the holders named.
        await b.leases.release(key, 'gw-b:1');
        expect(await a.leases.replace(key, 'nobody', 'gw-a:4', 2, 60_000)).toBe(true);
        expect(await a.leases.renew(key, 'gw-b:2', 60_000)).toBe(true);
        expect(await b.leases.renew(key, 'gw-a:4', 60_000)).toBe(true);
        // A holder on another key is not this key's holder.
        expect(await a.leases.acquire(`${key}-other`, 'gw-x:1', 1, 60_000)).toBe(true);
        expect(await a.leases.replace(key, 'gw-x:1', 'gw-a:5', 2, 60_000)).toBe(false);
        expect(await a.leases.renew(`${key}-other`, 'gw-x:1', 60_000)).toBe(true);
      });

      it('renews only a place still held: never one released, replaced or lapsed, and a refusal takes nothing', async () => {
        const key = `lease-${newTicketId()}`;
        expect(await a.leases.renew(key, 'never:1', 60_000)).toBe(false);
        expect(await a.leases.acquire(key, 'short:1', 2, 100)).toBe(true);
        // Renewed from the other process, it outlives its first lease.
        expect(await b.leases.renew(key, 'short:1', 60_000)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(await a.leases.renew(key, 'short:1', 60_000)).toBe(true);
        await a.leases.release(key, 'short:1');
        expect(await a.leases.renew(key, 'short:1', 60_000)).toBe(false);
        // Lapsed: gone for good, and the failed renewals took no place.
        expect(await a.leases.acquire(key, 'dead:1', 1, 50)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 120));
        expect(await b.leases.renew(key, 'dead:1', 60_000)).toBe(false);
        expect(await b.leases.acquire(key, 'live:1', 1, 60_000)).toBe(true);
        expect(await a.leases.acquire(key, 'live:2', 1, 60_000)).toBe(false);
      });

      it('heals by itself: a holder that stops renewing (a dead process) loses its place after the TTL', async () => {
        const key = `lease-${newTicketId()}`;
        expect(await a.leases.acquire(key, 'dead:1', 1, 50)).toBe(true);
        expect(await b.leases.acquire(key, 'live:1', 1, 60_000)).toBe(false);
        await new Promise((resolve) => setTimeout(resolve, 120));
        expect(await b.leases.acquire(key, 'live:1', 1, 60_000)).toBe(true);
      });
    });

    describe('budgets', () => {
      it('starts full, is shared by both processes, and a refusal takes nothing', async () => {
        const key = `budget-${newTicketId()}`;
        // A refill too slow to matter within the test: 1 token a day.
        const options = { capacity: 3, refillPerSecond: 1 / 86_400 };
        expect(await b.budgets.peek(key, options)).toBe(3);
        expect(await a.budgets.take(key, options)).toEqual({ ok: true, remaining: 2 });
        expect(await b.budgets.take(key, options)).toEqual({ ok: true, remaining: 1 });
        expect(await a.budgets.take(key, options)).toEqual({ ok: true, remaining: 0 });
        expect(await b.budgets.take(key, options)).toEqual({ ok: false, remaining: 0 });
        expect(await a.budgets.take(key, options)).toEqual({ ok: false, remaining: 0 });
        expect(await a.budgets.peek(key, options)).toBe(0);
        // Another key has its own bucket.
        expect(await a.budgets.take(`${key}-other`, options)).toEqual({ ok: true, remaining: 2 });
      });

      it('refills over time, never beyond its capacity', async () => {
        const key = `budget-${newTicketId()}`;
        const options = { capacity: 2, refillPerSecond: 50 };
        expect((await a.budgets.take(key, options)).ok).toBe(true);
        expect((await a.budgets.take(key, options)).ok).toBe(true);
        expect(await a.budgets.take(key, options)).toEqual({ ok: false, remaining: 0 });
        // 50 a second: a token every 20 ms; after 200 ms the bucket is full again, at 2 and not 10.
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await b.budgets.peek(key, options)).toBe(2);
        expect(await b.budgets.take(key, options)).toEqual({ ok: true, remaining: 1 });
      });

      it('counts an attempt against its window in the same step, shared by both processes; over it, nothing is drawn', async () => {
        const key = `budget-${newTicketId()}`;
        const options = { capacity: 10, refillPerSecond: 1 / 86_400 };
        const limit = { key: 'client-1', points: 2, windowMs: 60_000 };
        expect(await a.budgets.take(key, options, limit)).toEqual({ ok: true, remaining: 9 });
        expect(await b.budgets.take(key, options, limit)).toEqual({ ok: true, remaining: 8 });
        expect(await a.budgets.take(key, options, limit)).toEqual({ ok: false, remaining: 8, limited: true });
        expect(await b.budgets.take(key, options, limit)).toEqual({ ok: false, remaining: 8, limited: true });
        expect(await b.budgets.peek(key, options)).toBe(8);
        // Another client has its own window, and a draw without a limit counts against none.
        expect(await b.budgets.take(key, options, { ...limit, key: 'client-2' })).toEqual({ ok: true, remaining: 7 });
        expect(await a.budgets.take(key, options)).toEqual({ ok: true, remaining: 6 });
        // The same client key under another budget is another window.
        expect(await a.budgets.take(`${key}-other`, options, limit)).toEqual({ ok: true, remaining: 9 });
      });

      it('counts an attempt the empty bucket refuses, and opens a new window once the old one has passed', async () => {
        const key = `budget-${newTicketId()}`;
        const options = { capacity: 1, refillPerSecond: 1 / 86_400 };
        const limit = { key: 'client', points: 2, windowMs: 100 };
        expect(await a.budgets.take(key, options, limit)).toEqual({ ok: true, remaining: 0 });
        expect(await b.budgets.take(key, options, limit)).toEqual({ ok: false, remaining: 0 });
        expect(await a.budgets.take(key, options, limit)).toEqual({ ok: false, remaining: 0, limited: true });
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(await b.budgets.take(key, options, limit)).toEqual({ ok: false, remaining: 0 });
      });

      it('refuses a budget key with a brace, whose attempt counters would not share its cluster slot', async () => {
        await expect(a.budgets.take('bad{key}', { capacity: 1, refillPerSecond: 1 })).rejects.toThrow(/must not contain/);
      });
    });

    describe('health', () => {
      it('answers ping', async () => {
        await expect(a.ping()).resolves.toBeUndefined();
        await expect(b.ping()).resolves.toBeUndefined();
      });
    });
  });
}

/** A fresh pending ticket; `ttlSeconds` may be fractional. */
export function aTicket(options: { secret?: string; ttlSeconds?: number; now?: number } = {}): Ticket {
  return newTicket({
    id: newTicketId(),
    secret: options.secret ?? newSecret(),
    qr: { url: 'http://weixin.qq.com/q/x', wechatTicket: 't', appId: 'wx0123456789abcdef' },
    browser: { userAgent: 'ua', ip: '127.0.0.1' },
    now: options.now ?? Date.now(),
    ttlSeconds: options.ttlSeconds ?? 120,
  });
}

/** Poll until `check` holds; fails after a generous deadline (correctness, not speed, is under test). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Give a message that should not arrive the time it would have needed to arrive. */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 150));

/**
 * The contract's setup for Redis: two "processes", i.e. two engines on connection pairs of their own, over one
 * private server or cluster that `start` brings up and whose `stop` the cleanup calls.
 */
export function redisEngines(start: () => Promise<{ clients: RedisClientsOptions; stop(): Promise<void> }>): EngineContractSetup {
  return async (observers) => {
    const backing = await start();
    const clients: RedisClients[] = [];
    const engines: Engine[] = [];
    try {
      for (const observer of observers) {
        const pair = createRedisClients(backing.clients);
        clients.push(pair);
        engines.push(createRedisEngine({ client: pair.client, subscriber: pair.subscriber, observer }));
      }
    } catch (error) {
      await Promise.all(clients.map((pair) => pair.quit()));
      await backing.stop();
      throw error;
    }
    return {
      engines: [engines[0]!, engines[1]!],
      async cleanup() {
        try {
          await Promise.all(engines.map((engine) => engine.close()));
          await Promise.all(clients.map((pair) => pair.quit()));
        } finally {
          await backing.stop();
        }
      },
    };
  };
}
