/**
 * The security catalogue: every hostile input we know of, one test each, sent to the standalone product over
 * real HTTP and WebSocket. Each asserts the exact refusal and that nothing changed — the ticket is as it was,
 * the browser heard nothing new and got no login, and no session was issued.
 *
 * The product runs in `tap` mode with safe mode available, trusts X-Forwarded-For (each test speaks from its
 * own address, so per-IP limits do not leak between tests), 5 new tickets per address per minute and 3
 * refreshes per socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_WECHAT } from '../../apps/standalone/standalone.js';
import { newSecret, newTicketId } from '../../libs/ticket/index.js';
import { messageSignature, pushSignature, readReply } from '../../libs/wechat/index.js';
import { ConnectError, LoginBrowser } from '../support/login-browser.js';
import { followLink, linkIn, scan } from '../support/phone.js';
import { AES_KEY } from '../support/fixtures.js';
import { startTestStandalone } from '../support/standalone.js';
import {
  OA_ID,
  expectStillPending,
  expectUnchanged,
  freshAddress,
  openBrowser,
  openConfirmation,
  postConfirmation,
  postPush,
  scanOf,
  scanXml,
  signed,
  snapshot,
  ticketsCreated,
  tokenOf,
} from './security-harness.js';

let app: Standalone;
/** Tickets live 2 s here: for what must happen after expiry. */
let shortLived: Standalone;
const browsers: LoginBrowser[] = [];
const track = (browser: LoginBrowser): LoginBrowser => {
  browsers.push(browser);
  return browser;
};
const browserOn = async (target: Standalone, options: Parameters<typeof openBrowser>[1] = {}) => track(await openBrowser(target, options));

/** A correctly signed, fresh query string (for bodies that are not WeChat's). */
function signedQuery(offsetSeconds = 0): { query: string; timestamp: string; nonce: string } {
  const timestamp = String(Math.floor(Date.now() / 1000) + offsetSeconds);
  const nonce = String(Math.floor(Math.random() * 1e9));
  const query = new URLSearchParams({ signature: pushSignature(DEMO_WECHAT.token, timestamp, nonce), timestamp, nonce }).toString();
  return { query, timestamp, nonce };
}

/** Scan `browser`'s code in tap mode, confirm on the phone, and wait for the login. */
async function logIn(target: Standalone, browser: LoginBrowser, openid: string) {
  const result = await scan(target.url, { scene: browser.ticket.ticket, openid });
  const followed = await followLink(linkIn(result.reply)!, 'confirm');
  expect(followed.submitted?.status).toBe(200);
  return browser.waitFor('login');
}

beforeAll(async () => {
  const common = { WECHAT_AES_KEY: AES_KEY, TRUST_PROXY: '127.0.0.1', LOGIN_CONFIRMATION: 'tap' };
  app = await startTestStandalone({ ...common, RATE_LIMIT_TICKETS_PER_MINUTE: '5', MAX_REFRESHES_PER_SOCKET: '3' });
  shortLived = await startTestStandalone({ ...common, TICKET_TTL_SECONDS: '2' });
});
afterAll(async () => {
  for (const browser of browsers) browser.close();
  await app?.close();
  await shortLived?.close();
});

describe('WeChat pushes', () => {
  it('missing signature', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);

    const res = await postPush(app, '', await scanOf(app, browser.ticket.ticket, 'o_mallory'));

    expect(res.status).toBe(401);
    expect(res.body).toBe('invalid signature: signature, timestamp and nonce are required');
    await expectStillPending(app, browser, before);
  });

  it('wrong signature', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_mallory'), { token: 'not-the-token' });

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(401);
    expect(res.body).toBe('invalid signature');
    await expectStillPending(app, browser, before);
  });

  it('stale timestamp', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_mallory'), { timestamp: Math.floor(Date.now() / 1000) - 301 });

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(401);
    expect(res.body).toBe('stale timestamp: more than 300 s from the server clock');
    await expectStillPending(app, browser, before);
  });

  it('future timestamp', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_mallory'), { timestamp: Math.floor(Date.now() / 1000) + 301 });

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(401);
    expect(res.body).toBe('stale timestamp: more than 300 s from the server clock');
    await expectStillPending(app, browser, before);
  });

  it('replayed query string with a different body', async () => {
    const decoy = await browserOn(app);
    const victim = await browserOn(app);
    // A genuine push someone captured (a log, a proxy): its query string is valid for 5 minutes.
    const genuine = signed(await scanOf(app, decoy.ticket.ticket, 'o_alice'));
    expect((await postPush(app, genuine.query, genuine.body)).status).toBe(200);
    const before = await snapshot(app, victim);

    const res = await postPush(app, genuine.query, await scanOf(app, victim.ticket.ticket, 'o_mallory'));

    expect(res.status).toBe(401);
    expect(res.body).toBe('replayed query string with a different body');
    await expectStillPending(app, victim, before);
    const outcomes = await app.metrics.webhookRequests.get();
    expect(outcomes.values.find((v) => v.labels['outcome'] === 'replay_mismatch')?.value).toBe(1);
  });

  it('body over the limit (413)', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const xml = (await scanOf(app, browser.ticket.ticket, 'o_mallory')).replace(
      '</xml>',
      `<Padding>${'x'.repeat(100 * 1024)}</Padding></xml>`,
    );
    const push = signed(xml);

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(413);
    expect(res.body).toBe('body exceeds 65536 bytes');
    await expectStillPending(app, browser, before);
  });

  it('empty body', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);

    const res = await postPush(app, signedQuery().query, '');

    expect(res.status).toBe(400);
    expect(res.body).toBe('body is empty');
    await expectStillPending(app, browser, before);
  });

  it('non-<xml> root', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const body = (await scanOf(app, browser.ticket.ticket, 'o_mallory')).replace(/^<xml>/, '<event>').replace(/<\/xml>$/, '</event>');

    const res = await postPush(app, signedQuery().query, body);

    expect(res.status).toBe(400);
    expect(res.body).toBe('body must be an <xml> document');
    await expectStillPending(app, browser, before);
  });

  it('malformed XML', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const body = (await scanOf(app, browser.ticket.ticket, 'o_mallory')).replace('</EventKey>', '');

    const res = await postPush(app, signedQuery().query, body);

    expect(res.status).toBe(400);
    expect(res.body).toBe('malformed XML');
    await expectStillPending(app, browser, before);
  });

  it('DOCTYPE/entity expansion', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const body =
      `<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY scene "${browser.ticket.ticket}"><!ENTITY a "&scene;&scene;&scene;">]>` +
      scanXml('&scene;', 'o_mallory', 'gQ-no-such-code').replace('<![CDATA[&scene;]]>', '&scene;');

    const res = await postPush(app, signedQuery().query, body);

    expect(res.status).toBe(400);
    expect(res.body).toBe('body must not contain a DOCTYPE or ENTITY declaration');
    await expectStillPending(app, browser, before);
  });

  it('__proto__ element', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const body = (await scanOf(app, browser.ticket.ticket, 'o_mallory')).replace(
      '</xml>',
      '<__proto__><isAdmin>1</isAdmin></__proto__></xml>',
    );

    const res = await postPush(app, signedQuery().query, body);

    expect(res.status).toBe(400);
    expect(res.body).toBe('body contains a forbidden element name');
    await expectStillPending(app, browser, before);
    expect(({} as Record<string, unknown>)['isAdmin']).toBeUndefined();
  });

  it('safe-mode ciphertext for another AppID', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_mallory'), {
      aes: { encodingAesKey: AES_KEY, appId: 'wx00000000foreign' },
    });

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(400);
    expect(res.body).toBe('decrypted message is for another AppID');
    await expectStillPending(app, browser, before);
  });

  it('malformed ciphertext', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const encrypt = Buffer.from(`not a ciphertext for ${browser.ticket.ticket}`).toString('base64');
    const { timestamp, nonce, query } = signedQuery();
    const msgSignature = messageSignature(DEMO_WECHAT.token, timestamp, nonce, encrypt);
    const body = `<xml><ToUserName><![CDATA[${OA_ID}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`;

    const res = await postPush(app, `${query}&encrypt_type=aes&msg_signature=${msgSignature}`, body);

    expect(res.status).toBe(400);
    expect(res.body).toBe('malformed ciphertext');
    await expectStillPending(app, browser, before);
  });

  it('wrong msg_signature', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const push = signed(await scanOf(app, browser.ticket.ticket, 'o_mallory'), {
      aes: { encodingAesKey: AES_KEY, appId: DEMO_WECHAT.appId },
    });
    const query = push.query.replace(/msg_signature=[0-9a-f]{40}/, `msg_signature=${'0'.repeat(40)}`);

    const res = await postPush(app, query, push.body);

    expect(res.status).toBe(401);
    expect(res.body).toBe('invalid msg_signature');
    await expectStillPending(app, browser, before);
  });

  it('unknown scene', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const unknown = newTicketId();
    const push = signed(await scanOf(app, unknown, 'o_mallory'));

    const res = await postPush(app, push.query, push.body);

    expect(res.status).toBe(200);
    expect(readReply(res.body).content).toMatch(/^这个二维码已过期或无法识别/);
    expect(await app.engine.tickets.get(unknown)).toBeNull();
    await expectStillPending(app, browser, before);
  });

  it('expired ticket', async () => {
    const browser = await browserOn(shortLived);
    await browser.waitFor('status', (s) => s.status === 'expired', 10_000);
    const before = await snapshot(shortLived, browser);
    const push = signed(await scanOf(shortLived, browser.ticket.ticket, 'o_late'));

    const res = await postPush(shortLived, push.query, push.body);

    expect(res.status).toBe(200);
    expect(readReply(res.body).content).toMatch(/^这个二维码已过期或无法识别/);
    // At its TTL the gateway records `expired` (the store keeps it a few seconds): a late scan must not revive it.
    expect(before.ticket?.status).toBe('expired');
    expect(browser.statuses()).toEqual(['pending', 'expired']);
    await expectUnchanged(shortLived, browser, before);
    expect(browser.logins()).toEqual([]);
  });

  it('a second scan of a confirmed ticket by another openid', async () => {
    const browser = await browserOn(app);
    await logIn(app, browser, 'o_owner');
    const before = await snapshot(app, browser);

    const second = await scan(app.url, { scene: browser.ticket.ticket, openid: 'o_intruder' });

    expect(second.reply).toMatch(/^这个二维码已经被使用/);
    expect(linkIn(second.reply)).toBeUndefined();
    expect(before.ticket?.status).toBe('confirmed');
    expect(before.ticket?.openid).toBe('o_owner');
    await expectUnchanged(app, browser, before);
    expect(browser.logins()).toHaveLength(1);
  });
});

describe('sessions', () => {
  it('reused login code', async () => {
    const browser = await browserOn(app);
    const login = await logIn(app, browser, 'o_reuse');
    expect((await browser.exchange(login.code)).status).toBe(200);
    const before = await snapshot(app, browser);

    // Whoever reuses the code without the browser's secret (it leaked from a log, a referrer, a shoulder).
    const again = await browser.exchange(login.code, newSecret());

    expect(again.status).toBe(401);
    expect(again.body).toEqual({ error: 'code already used', code: 'INVALID_CODE' });
    expect(again.setCookie).toBeNull();
    expect(before.ticket?.status).toBe('consumed');
    await expectUnchanged(app, browser, before);
  });

  it("the browser's own retry of an exchange whose answer it lost is the same session, never a second one", async () => {
    const browser = await browserOn(app);
    const login = await logIn(app, browser, 'o_retry');
    const first = await browser.exchange(login.code);
    expect(first.status).toBe(200);
    const before = await snapshot(app, browser);

    const retry = await browser.exchange(login.code);

    expect(retry.status).toBe(200);
    const claims = (token: string) => {
      const { sub, jti, iat, exp, aud, iss } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<
        string,
        unknown
      >;
      return { sub, jti, iat, exp, aud, iss };
    };
    expect(claims(first.body.token).jti).toEqual(expect.any(String));
    expect(claims(retry.body.token)).toEqual(claims(first.body.token));
    expect(retry.body.openid).toBe(first.body.openid);
    expect(before.ticket?.status).toBe('consumed');
    await expectUnchanged(app, browser, before);
  });

  it('code with the wrong secret', async () => {
    const browser = await browserOn(app);
    const login = await logIn(app, browser, 'o_wrong_secret');
    const before = await snapshot(app, browser);

    const res = await browser.exchange(login.code, 'A'.repeat(43));

    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'code does not belong to this browser', code: 'INVALID_CODE' });
    expect(res.setCookie).toBeNull();
    expect(before.ticket?.status).toBe('confirmed');
    await expectUnchanged(app, browser, before);
  });
});

describe('browser sockets', () => {
  it('resume with a wrong secret', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);

    const refused = await LoginBrowser.open(app.url, { resume: { ticket: browser.ticket.ticket, secret: 'A'.repeat(43) } }).catch(
      (e: unknown) => e,
    );

    expect(refused).toBeInstanceOf(ConnectError);
    expect((refused as ConnectError).code).toBe('TICKET_SECRET_MISMATCH');
    expect((refused as ConnectError).message).toBe('wrong ticket secret');
    await expectStillPending(app, browser, before);
  });

  it('foreign Origin', async () => {
    const browser = await browserOn(app);
    const login = await logIn(app, browser, 'o_origin');
    const before = await snapshot(app, browser);
    const created = await ticketsCreated(app);

    const socket = await LoginBrowser.open(app.url, {
      // Refused by allowRequest, before a session exists: over polling the 403's body names the code.
      transports: ['polling'],
      extraHeaders: { origin: 'https://evil.example', 'x-forwarded-for': freshAddress() },
    }).catch((e: unknown) => e);
    const exchange = await browser.exchange(login.code, browser.ticket.secret, { origin: 'https://evil.example' });

    expect(socket).toBeInstanceOf(ConnectError);
    expect((socket as ConnectError).code).toBe('ORIGIN_NOT_ALLOWED');
    expect(exchange.status).toBe(403);
    expect(exchange.body).toEqual({ error: 'origin not allowed', code: 'ORIGIN_NOT_ALLOWED' });
    expect(exchange.setCookie).toBeNull();
    expect(await ticketsCreated(app)).toBe(created);
    expect(before.ticket?.status).toBe('confirmed');
    await expectUnchanged(app, browser, before);
  });

  it('ticket-creation flood from one IP', async () => {
    const address = freshAddress();
    const first = await browserOn(app, { address });
    for (let i = 1; i < 5; i++) await browserOn(app, { address });
    const before = await snapshot(app, first);
    const created = await ticketsCreated(app);

    const flood = await LoginBrowser.open(app.url, { extraHeaders: { 'x-forwarded-for': address } }).catch((e: unknown) => e);

    expect(flood).toBeInstanceOf(ConnectError);
    expect((flood as ConnectError).code).toBe('RATE_LIMITED');
    expect(await ticketsCreated(app)).toBe(created);
    await expectStillPending(app, first, before);
    // Another address is not affected.
    await browserOn(app);
  });

  it('refresh flood on one socket', async () => {
    const browser = await browserOn(app);
    for (let i = 0; i < 3; i++) {
      const ok = await browser.refresh();
      expect('ticket' in ok).toBe(true);
    }
    await browser.waitFor('status', (s) => s.status === 'pending' && s.ticket === browser.ticket.ticket);
    const before = await snapshot(app, browser);
    const created = await ticketsCreated(app);

    const refused = await browser.refresh();

    expect(refused).toEqual({ error: { code: 'REFRESH_LIMIT', message: 'too many refreshes on this connection; reload the page' } });
    expect(await ticketsCreated(app)).toBe(created);
    await expectUnchanged(app, browser, before);
    expect(browser.logins()).toEqual([]);
  });

  it('oversized or mistyped socket payloads', async () => {
    const browser = await browserOn(app);
    const before = await snapshot(app, browser);
    const created = await ticketsCreated(app);
    // The wire as an attacker writes it, not as the typed client allows.
    const raw = browser.socket as unknown as { emit(event: string, ...args: unknown[]): void };
    const ackOf = (...args: unknown[]) => new Promise<unknown>((resolve) => raw.emit('refresh', ...args, resolve));

    raw.emit('refresh');
    raw.emit('refresh', { ticket: 'x' });
    raw.emit('login', { ticket: browser.ticket.ticket, code: 'forged', user: {} });
    raw.emit('__proto__', { polluted: true });
    const mistyped = await ackOf('junk', 42);

    expect(mistyped).toEqual({ error: { code: 'INVALID_PAYLOAD', message: 'refresh takes no arguments' } });
    expect(await ticketsCreated(app)).toBe(created);
    await expectStillPending(app, browser, before);

    const disconnected = new Promise<string>((resolve) => browser.socket.once('disconnect', (reason) => resolve(reason)));
    raw.emit('refresh', 'x'.repeat(64 * 1024), () => undefined);

    expect(await disconnected).toMatch(/transport (close|error)/);
    expect(await ticketsCreated(app)).toBe(created);
    expect((await app.engine.tickets.get(browser.ticket.ticket))?.status).toBe('pending');
    expect(browser.logins()).toEqual([]);
    // The gateway keeps serving.
    await browserOn(app);
  });
});

describe('confirmation links', () => {
  it('confirmation link reused, forged, or opened after expiry', async () => {
    // Reused: after a Confirm, neither the page nor a replayed form does anything; of two simultaneous
    // submissions exactly one counts.
    const used = await browserOn(app);
    const usedScan = await scan(app.url, { scene: used.ticket.ticket, openid: 'o_link_owner' });
    const usedLink = linkIn(usedScan.reply)!;
    // Both from the device that opened the link (the decision is bound to it).
    const device = await openConfirmation(app, tokenOf(usedLink));
    expect(device.page.status).toBe(200);
    const [one, two] = await Promise.all([
      postConfirmation(app, tokenOf(usedLink), 'confirm', device.cookie),
      postConfirmation(app, tokenOf(usedLink), 'confirm', device.cookie),
    ]);
    expect([one.status, two.status].sort()).toEqual([200, 409]);
    await used.waitFor('login');
    const afterUse = await snapshot(app, used);

    const reopened = await followLink(usedLink, 'cancel');
    const replayed = await postConfirmation(app, tokenOf(usedLink), 'cancel', device.cookie);

    expect(reopened.page.status).toBe(409);
    expect(reopened.page.body).toContain('这个链接已经使用过');
    expect(reopened.submitted).toBeNull();
    expect(replayed.status).toBe(409);
    expect(replayed.body).toContain('This link has already been used.');
    await expectUnchanged(app, used, afterUse);
    expect(used.logins()).toHaveLength(1);

    // Forged: a link whose signature, expiry or ticket was altered is refused, and the scanned ticket waits.
    const target = await browserOn(app);
    const targetScan = await scan(app.url, { scene: target.ticket.ticket, openid: 'o_link_victim' });
    await target.waitFor('status', (s) => s.status === 'scanned');
    const beforeForgery = await snapshot(app, target);
    const genuine = tokenOf(linkIn(targetScan.reply)!);
    const [id, expiry, mac] = genuine.split('.') as [string, string, string];
    const flipped = mac[10] === 'A' ? 'B' : 'A';
    const forgeries = [
      `${id}.${expiry}.${mac.slice(0, 10)}${flipped}${mac.slice(11)}`,
      `${id}.${Number(expiry) + 3_600_000}.${mac}`,
      `${id}.${expiry}.${'A'.repeat(43)}`,
    ];
    for (const forged of forgeries) {
      const page = await followLink(`${app.url}/confirm#t=${forged}`, 'confirm');
      const posted = await postConfirmation(app, forged, 'confirm');
      expect(page.page.status).toBe(403);
      expect(page.page.body).toContain('链接无效或已被篡改');
      expect(page.submitted).toBeNull();
      expect(posted.status).toBe(403);
    }
    const malformed = await postConfirmation(app, 'not-a-token', 'confirm');
    expect(malformed.status).toBe(400);
    const oversized = await postConfirmation(app, 'x'.repeat(4096), 'confirm');
    expect(oversized.status).toBe(413);
    await expectUnchanged(app, target, beforeForgery);
    expect(target.logins()).toEqual([]);

    // Opened after expiry: the link dies with its ticket.
    const late = await browserOn(shortLived);
    const lateScan = await scan(shortLived.url, { scene: late.ticket.ticket, openid: 'o_link_late' });
    const lateLink = linkIn(lateScan.reply)!;
    await late.waitFor('status', (s) => s.status === 'expired', 10_000);
    const afterExpiry = await snapshot(shortLived, late);

    const expiredPage = await followLink(lateLink, 'confirm');
    const expiredPost = await postConfirmation(shortLived, tokenOf(lateLink), 'confirm');

    expect(expiredPage.page.status).toBe(410);
    expect(expiredPage.page.body).toContain('链接已过期');
    expect(expiredPage.submitted).toBeNull();
    expect(expiredPost.status).toBe(410);
    await expectUnchanged(shortLived, late, afterExpiry);
    expect(late.logins()).toEqual([]);
  });
});
