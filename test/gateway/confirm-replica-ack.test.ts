/**
 * A tap on the confirmation page (`tap` mode) is answered "confirmed" or "refused" only once a Redis Cluster
 * replica has the decision: a master SIGKILLed right after answering takes an unreplicated write with it, and
 * the scanner, told it worked, never taps again. The standalone product runs on a private six-node cluster;
 * the replica of the ticket's master is stopped (SIGSTOP) while the scanner taps: the page answers 503 with the
 * same buttons (and again to a second tap while the replica is still away, which finds the decision stored but
 * not yet replicated), the browser is told nothing, and `qrgate_replica_unconfirmed_total{operation="decide"}`
 * goes up; the page reloaded shows the buttons again. Once the replica is back (SIGCONT) the same tap answers as
 * usual and the browser logs in, once.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { startFaultCluster, waitFor, type FaultCluster, type RedisNode } from '../faults/support/redis-nodes.js';
import { LoginBrowser } from '../support/login-browser.js';
import { linkIn, scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { openConfirmation, postConfirmation, tokenOf } from '../security/security-harness.js';

/** Short, so that the paused replica is back long before the cluster would call it failed (2 s). */
const ACK_TIMEOUT_MS = 300;

/** `CLUSTER SLOTS` of one node: `[from, to, master, replica…]` per range of slots, as ioredis reads it. */
async function slotMap(port: number): Promise<unknown[][]> {
  const connection = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  try {
    return (await connection.call('CLUSTER', 'SLOTS')) as unknown[][];
  } finally {
    connection.disconnect();
  }
}

describe('a decision on the confirmation page on a Redis Cluster', () => {
  let cluster: FaultCluster;
  let app: Standalone;
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    cluster = await startFaultCluster();
    // Every replica synced, and listed by every node's CLUSTER SLOTS (the slot map the product's client reads
    // from one node when it connects) before the product connects: a durable write waits only for a replica
    // that map lists.
    await waitFor("every replica in sync and in every node's slot map", 60_000, async () => {
      const maps = await Promise.all(cluster.nodes.map((node) => slotMap(node.port)));
      return (await cluster.replicasSynced()) && maps.every((ranges) => ranges.length > 0 && ranges.every((range) => range.length >= 4));
    });
    app = await startTestStandalone({
      REDIS_CLUSTER_NODES: cluster.seeds,
      REDIS_REPLICA_ACK_TIMEOUT_MS: String(ACK_TIMEOUT_MS),
      LOGIN_CONFIRMATION: 'tap',
    });
  }, 120_000);

  afterAll(async () => {
    for (const browser of browsers) browser.close();
    await app?.close();
    await cluster?.remove();
  });

  /** The replica of the master that owns the ticket's slot. */
  const replicaOf = (ticketId: string): Promise<RedisNode> => cluster.replicaOf(`qrgate:{${ticketId}}:ticket`);

  const unconfirmed = async (): Promise<number> =>
    (await app.metrics.replicaUnconfirmed.get()).values.find((v) => v.labels.operation === 'decide')?.value ?? 0;

  /** A browser whose ticket was scanned, and its link opened on the phone (the device cookie bound). */
  async function openedOnThePhone(openid: string): Promise<{ browser: LoginBrowser; token: string; cookie: string }> {
    const browser = await LoginBrowser.open(app.url);
    browsers.push(browser);
    await browser.waitFor('status', (s) => s.status === 'pending');
    const scanned = await scan(app.url, { scene: browser.ticket.ticket, openid });
    await browser.waitFor('status', (s) => s.status === 'scanned');
    const token = tokenOf(linkIn(scanned.reply)!);
    const opened = await openConfirmation(app, token);
    expect(opened.page.status).toBe(200);
    return { browser, token, cookie: opened.cookie };
  }

  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('Confirm is answered 503 while no replica acknowledges, and the tap again logs the browser in once', async () => {
    const { browser, token, cookie } = await openedOnThePhone('o_unreplicated_confirm');
    const replica = await replicaOf(browser.ticket.ticket);
    const before = await unconfirmed();

    replica.pause();
    let first;
    let again;
    try {
      first = await postConfirmation(app, token, 'confirm', cookie);
      // The second tap finds the ticket confirmed by this scanner, but that state is still on the master alone.
      again = await postConfirmation(app, token, 'confirm', cookie);
    } finally {
      replica.resume();
    }

    for (const answer of [first, again]) {
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.body).toContain('Please tap it again.');
      // The same buttons, to tap again.
      expect(answer.body).toContain('value="confirm"');
    }
    expect(await unconfirmed()).toBe(before + 2);
    await settle();
    // Nobody was told of a decision a failover could still undo.
    expect(browser.logins()).toEqual([]);
    // The page reloaded on the phone shows the buttons again, and still tells nobody.
    const reopened = await postConfirmation(app, token, 'open', cookie);
    expect(reopened.status).toBe(200);
    expect(reopened.body).toContain('value="confirm"');
    await settle();
    expect(browser.logins()).toEqual([]);

    const tapped = await postConfirmation(app, token, 'confirm', cookie);

    expect(tapped.status).toBe(200);
    expect(tapped.body).toMatch(/已确认登录/);
    const login = await browser.waitFor('login');
    expect((await browser.exchange(login.code)).status).toBe(200);
    // One transition: scanned (2) → confirmed (3), whatever the taps.
    expect(await app.engine.tickets.get(browser.ticket.ticket)).toMatchObject({ status: 'consumed', version: 4 });
    expect(browser.logins()).toHaveLength(1);
    expect(await unconfirmed()).toBe(before + 2);
    // The link is used up now: a further tap changes nothing.
    expect((await postConfirmation(app, token, 'confirm', cookie)).status).toBe(409);
  });

  it('Not me is answered 503 while no replica acknowledges, and the tap again cancels the login', async () => {
    const { browser, token, cookie } = await openedOnThePhone('o_unreplicated_cancel');
    const replica = await replicaOf(browser.ticket.ticket);
    const before = await unconfirmed();

    replica.pause();
    let first;
    try {
      first = await postConfirmation(app, token, 'cancel', cookie);
    } finally {
      replica.resume();
    }

    expect(first.status).toBe(503);
    expect(first.body).toContain('Please tap it again.');
    expect(await unconfirmed()).toBe(before + 1);

    const tapped = await postConfirmation(app, token, 'cancel', cookie);

    expect(tapped.status).toBe(200);
    expect(tapped.body).toMatch(/已拒绝这次登录/);
    await browser.waitFor('status', (s) => s.status === 'cancelled');
    expect(await app.engine.tickets.get(browser.ticket.ticket)).toMatchObject({ status: 'cancelled', version: 3 });
    expect(browser.logins()).toEqual([]);
  });
});
