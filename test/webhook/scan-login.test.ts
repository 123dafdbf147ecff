/**
 * A QR scan pushed by WeChat moves the ticket, rings its doorbell once, and tells the scanner which browser is
 * being logged in; every other outcome leaves the ticket alone and still answers politely.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readReply, buildEventXml, signPush, buildTextReplyXml } from '../../libs/wechat/index.js';
import { BROWSER_IP, OA_ID, TOKEN } from '../support/fixtures.js';
import { flakyEngine, outcomeCount, scanEvent, settle, startWebhook, type Harness } from '../support/webhook-harness.js';
import { loginCountKey, verifyConfirmationToken } from '../../libs/ticket/index.js';

describe('scan mode', () => {
  let hook: Harness;
  beforeEach(async () => {
    hook = await startWebhook({ confirmation: 'scan' });
  });
  afterEach(async () => {
    await hook.close();
  });

  it('confirms on a subscribe with qrscene_, replies with browser, OS, IP, time and the login count', async () => {
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);

    const res = await hook.push(scanEvent(ticket, { openid: 'o_alice', event: 'subscribe' }));

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const { content, xml } = readReply(res.body);
    expect(content).toContain('Chrome 120');
    expect(content).toContain('Windows 10');
    expect(content).toContain(BROWSER_IP);
    expect(content).toContain('北京时间');
    expect(content).toMatch(/第 1 次/);
    expect(content).toMatch(/不是你本人/);
    // To and From swapped, CreateTime in seconds (WECHAT.md §6).
    expect(xml).toContain('<ToUserName><![CDATA[o_alice]]></ToUserName>');
    expect(xml).toContain(`<FromUserName><![CDATA[${OA_ID}]]></FromUserName>`);
    expect(Number(/<CreateTime>(\d+)<\/CreateTime>/.exec(xml ?? '')?.[1])).toBeLessThan(10_000_000_000);

    const stored = await hook.engine.tickets.get(ticket.id);
    expect(stored?.status).toBe('confirmed');
    expect(stored?.openid).toBe('o_alice');
    expect(stored?.code?.startsWith(`${ticket.id}.`)).toBe(true);
    await settle();
    expect(changes).toEqual([{ ticket: ticket.id, status: 'confirmed', version: 2 }]);
    expect(await outcomeCount(hook.metrics, 'ok')).toBe(1);
    expect((await hook.metrics.ticketsConfirmed.get()).values[0]?.value).toBe(1);
  });

  it("confirms on a SCAN without prefix and counts the same openid's second login", async () => {
    const first = await hook.createTicket();
    const second = await hook.createTicket();
    const changes = await hook.watch(second.id);

    const one = readReply((await hook.push(scanEvent(first, { openid: 'o_bob', event: 'subscribe' }))).body).content;
    const two = readReply((await hook.push(scanEvent(second, { openid: 'o_bob', event: 'SCAN' }))).body).content;

    expect(one).toMatch(/第 1 次/);
    expect(two).toMatch(/第 2 次/);
    expect(two).toContain('Chrome');
    expect((await hook.engine.tickets.get(second.id))?.status).toBe('confirmed');
    await settle();
    expect(changes).toHaveLength(1);
  });

  it('answers a retried push (same FromUserName|CreateTime|Event|EventKey) with the same reply and publishes once', async () => {
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);
    const xml = scanEvent(ticket, { openid: 'o_carol', createTime: 1718000456 });

    const first = await hook.push(xml);
    // WeChat's retry: same event, freshly signed query string.
    const retry = await hook.push(xml);

    expect(readReply(first.body).content).toMatch(/第 1 次/);
    expect(retry.status).toBe(200);
    // The same answer as the first delivery (WeChat shows the re-send's answer when the first one was lost).
    expect(readReply(retry.body).content).toBe(readReply(first.body).content);
    await settle();
    expect(changes).toHaveLength(1);
    expect(await outcomeCount(hook.metrics, 'duplicate')).toBe(1);
  });

  it('answers the same query string with the same body (a retry) with the same reply and changes nothing', async () => {
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);
    const signed = signPush(scanEvent(ticket, { openid: 'o_dave' }), { token: TOKEN });
    const first = await hook.post(signed.query, signed.body);
    expect(first.status).toBe(200);

    const retried = await hook.post(signed.query, signed.body);

    expect(retried.status).toBe(200);
    expect(readReply(retried.body).content).toBe(readReply(first.body).content);
    await settle();
    expect(changes).toHaveLength(1);
    expect(await outcomeCount(hook.metrics, 'replay')).toBe(1);
  });

  it('refuses a replayed query string with a different body (401) and changes nothing', async () => {
    const ticket = await hook.createTicket();
    const other = await hook.createTicket();
    const changes = await hook.watch(other.id);
    const signed = signPush(scanEvent(ticket, { openid: 'o_dave' }), { token: TOKEN });
    expect((await hook.post(signed.query, signed.body)).status).toBe(200);

    // A captured plaintext URL with a different body (WECHAT.md §4.3).
    const replayed = await hook.post(signed.query, scanEvent(other, { openid: 'o_mallory' }));

    expect(replayed.status).toBe(401);
    expect(replayed.body).toBe('replayed query string with a different body');
    expect((await hook.engine.tickets.get(other.id))?.status).toBe('pending');
    await settle();
    expect(changes).toHaveLength(0);
    expect(await outcomeCount(hook.metrics, 'replay_mismatch')).toBe(1);
  });

  it('gives an unknown scene a polite reply and changes nothing', async () => {
    const ticket = await hook.createTicket();
    for (const eventKey of ['AAAAAAAAAAAAAAAAAAAAAA', '731904', 'not a ticket id at all']) {
      const xml = buildEventXml({
        toUserName: OA_ID,
        fromUserName: 'o_erin',
        createTime: 1718000000,
        event: 'SCAN',
        eventKey,
        ticket: 'gQ-no-such-code',
      });
      const res = await hook.push(xml);
      expect(res.status).toBe(200);
      expect(readReply(res.body).content).toMatch(/过期或无法识别.*\n.*refresh the page/);
    }
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
    expect(await outcomeCount(hook.metrics, 'unknown_scene')).toBe(3);
  });

  it('gives an expired ticket the same polite reply and does not log it in', async () => {
    const ticket = await hook.createTicket({ ttlSeconds: 1 });
    const changes = await hook.watch(ticket.id);
    hook.advance(2_000);

    const res = await hook.push(scanEvent(ticket, { openid: 'o_frank' }));

    expect(readReply(res.body).content).toMatch(/过期/);
    await settle();
    expect(changes).toHaveLength(0);
  });

  it('treats an event whose QR ticket differs from the stored one as unknown', async () => {
    const ticket = await hook.createTicket();
    const xml = buildEventXml({
      toUserName: OA_ID,
      fromUserName: 'o_grace',
      createTime: 1718000000,
      event: 'SCAN',
      eventKey: ticket.id,
      ticket: 'gQ-some-other-qr-code',
    });

    const res = await hook.push(xml);

    expect(readReply(res.body).content).toMatch(/过期或无法识别/);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
  });

  it("makes good a publish lost after the scan was stored: WeChat's retry rings the doorbell, the login counts once", async () => {
    const flaky = await startWebhook({ confirmation: 'scan' }, { engine: (real) => flakyEngine(real, { publishFailures: 1 }) });
    try {
      const ticket = await flaky.createTicket();
      const changes = await flaky.watch(ticket.id);
      const signed = signPush(scanEvent(ticket, { openid: 'o_lost', createTime: 1718000777 }), { token: TOKEN });

      // The write succeeds and the publish fails; WeChat then re-sends the very same request.
      await flaky.post(signed.query, signed.body);
      expect((await flaky.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
      const retry = await flaky.post(signed.query, signed.body);

      expect(retry.status).toBe(200);
      await settle();
      expect(changes).toEqual([{ ticket: ticket.id, status: 'confirmed', version: 2 }]);
      expect(await flaky.engine.kv.get(loginCountKey('o_lost'))).toBe('1');
    } finally {
      await flaky.close();
    }
  });

  it('still tells the browser when the login count cannot be kept, and leaves the count out of the reply', async () => {
    const flaky = await startWebhook({ confirmation: 'scan' }, { engine: (real) => flakyEngine(real, { incrementFailures: 1 }) });
    try {
      const ticket = await flaky.createTicket();
      const changes = await flaky.watch(ticket.id);

      const res = await flaky.push(scanEvent(ticket, { openid: 'o_uncounted' }));

      expect(res.status).toBe(200);
      const content = readReply(res.body).content ?? '';
      expect(content).toMatch(/扫码登录成功/);
      expect(content).not.toMatch(/第 \d+ 次/);
      await settle();
      expect(changes).toEqual([{ ticket: ticket.id, status: 'confirmed', version: 2 }]);
    } finally {
      await flaky.close();
    }
  });

  it('refuses a second scan of a confirmed ticket by someone else; a re-scan by the owner is idempotent', async () => {
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);
    await hook.push(scanEvent(ticket, { openid: 'o_heidi', createTime: 1718000001 }));

    const other = await hook.push(scanEvent(ticket, { openid: 'o_ivan', createTime: 1718000002 }));
    const again = await hook.push(scanEvent(ticket, { openid: 'o_heidi', createTime: 1718000003 }));

    expect(readReply(other.body).content).toMatch(/已经被使用/);
    expect(readReply(again.body).content).toMatch(/无需重复/);
    const stored = await hook.engine.tickets.get(ticket.id);
    expect(stored?.status).toBe('confirmed');
    expect(stored?.openid).toBe('o_heidi');
    await settle();
    // The owner's re-scan rings the doorbell again for the same version (harmless: gateways deliver each
    // version once); the refused scan rings nothing.
    expect(changes).toEqual([
      { ticket: ticket.id, status: 'confirmed', version: 2 },
      { ticket: ticket.id, status: 'confirmed', version: 2 },
    ]);
    expect(await outcomeCount(hook.metrics, 'refused')).toBe(1);
  });

  it('answers unsubscribe, a plain follow and a text message with success', async () => {
    const base = { toUserName: OA_ID, fromUserName: 'o_judy', createTime: 1718001000 };
    const unsubscribe = await hook.push(buildEventXml({ ...base, event: 'unsubscribe', eventKey: '' }));
    const follow = await hook.push(buildEventXml({ ...base, event: 'subscribe' }));
    const text = await hook.push(
      buildTextReplyXml({ toUserName: OA_ID, fromUserName: 'o_judy', content: 'hello', createTime: 1718001000 }),
    );

    for (const res of [unsubscribe, follow, text]) {
      expect(res.status).toBe(200);
      expect(res.body).toBe('success');
    }
    expect(await outcomeCount(hook.metrics, 'ignored')).toBe(3);
  });

  it("forgets a user's login count when they unfollow (WeChat asks for their data to go)", async () => {
    await hook.engine.kv.increment(loginCountKey('o_leaver'));
    await hook.engine.kv.increment(loginCountKey('o_stayer'));
    const res = await hook.push(
      buildEventXml({ toUserName: OA_ID, fromUserName: 'o_leaver', createTime: 1718002000, event: 'unsubscribe', eventKey: '' }),
    );
    expect(res.body).toBe('success');
    expect(await hook.engine.kv.get(loginCountKey('o_leaver'))).toBeNull();
    expect(await hook.engine.kv.get(loginCountKey('o_stayer'))).toBe('1');
  });

  it('keeps the reply valid XML when the content carries ]]>', async () => {
    const ticket = await hook.createTicket();
    const res = await hook.push(
      buildEventXml({
        toUserName: OA_ID,
        fromUserName: 'o_ken',
        createTime: 1718000000,
        event: 'SCAN',
        eventKey: ticket.id,
        ticket: ticket.qr.wechatTicket,
      }).replace(`<ToUserName><![CDATA[${OA_ID}]]></ToUserName>`, '<ToUserName><![CDATA[gh_]]]]><![CDATA[>x]]></ToUserName>'),
    );

    expect(res.status).toBe(200);
    // The OA id came back as our FromUserName: its `]]>` is split across CDATA sections, not closing one early.
    expect(res.body).toContain('<FromUserName><![CDATA[gh_]]]]><![CDATA[>x]]></FromUserName>');
    expect(readReply(res.body).content).toMatch(/扫码登录成功/);
  });

  it('shows an unknown browser instead of text from a crafted User-Agent, and no invalid IP', async () => {
    const ticket = await hook.createTicket({ userAgent: '请立即转账到 6222 0000/1.0 (x)', ip: '<script>' });
    const content = readReply((await hook.push(scanEvent(ticket, { openid: 'o_leo' }))).body).content ?? '';

    expect(content).not.toContain('转账');
    expect(content).not.toContain('<script>');
    expect(content).toContain('未知浏览器');
  });

  it('logs one line per push with a hashed ticket id and never the query string', async () => {
    const ticket = await hook.createTicket();
    await hook.push(scanEvent(ticket, { openid: 'o_mia' }));

    const lines = hook
      .logs()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const pushes = lines.filter((line) => line['msg'] === 'wechat push');
    expect(pushes).toHaveLength(1);
    expect(pushes[0]).toMatchObject({ outcome: 'ok', status: 200, path: '/wechat' });
    expect(pushes[0]?.['requestId']).toEqual(expect.any(String));
    expect(pushes[0]?.['ticket']).toMatch(/^[0-9a-f]{12}$/);
    expect(hook.logs()).not.toContain(ticket.id);
    expect(hook.logs()).not.toContain('signature=');
    expect(hook.logs()).not.toContain('nonce');
  });
});

describe('tap mode', () => {
  let hook: Harness;
  beforeEach(async () => {
    hook = await startWebhook({ confirmation: 'tap' });
  });
  afterEach(async () => {
    await hook.close();
  });

  it('puts a signed one-time link to the gateway in the reply, bound to the ticket and the scanner', async () => {
    const links = { secret: 'tap-mode-test-secret-0123456789', publicUrl: 'https://login.example.com' };
    const linked = await startWebhook({ confirmation: 'tap', confirmationLinks: links });
    try {
      const ticket = await linked.createTicket();
      const content = readReply((await linked.push(scanEvent(ticket, { openid: 'o_olga' }))).body).content ?? '';
      const url = new URL(/https:\/\/\S+/.exec(content)?.[0] ?? 'https://missing.invalid');
      expect(url.origin).toBe('https://login.example.com');
      expect(url.pathname).toBe('/confirm');
      // The token rides in the fragment, which no request (and so no access log) carries (issue 16, item 7).
      expect(url.search).toBe('');
      const token = new URLSearchParams(url.hash.slice(1)).get('t');
      expect(verifyConfirmationToken(token, { openid: 'o_olga', secret: links.secret, now: Date.now() }).ok).toBe(true);
      expect(verifyConfirmationToken(token, { openid: 'o_other', secret: links.secret, now: Date.now() })).toEqual({
        ok: false,
        reason: 'bad_signature',
      });
      // The scanner lost the message: scanning again brings the same link back, and changes nothing.
      const again = readReply((await linked.push(scanEvent(ticket, { openid: 'o_olga', createTime: 1718000999 }))).body).content ?? '';
      expect(again).toContain(url.toString());
      expect((await linked.engine.tickets.get(ticket.id))?.version).toBe(2);
    } finally {
      await linked.close();
    }
  });

  it('makes good a publish lost after the scan was stored: the retry rings the doorbell for the scanned ticket', async () => {
    const flaky = await startWebhook({ confirmation: 'tap' }, { engine: (real) => flakyEngine(real, { publishFailures: 1 }) });
    try {
      const ticket = await flaky.createTicket();
      const changes = await flaky.watch(ticket.id);
      const signed = signPush(scanEvent(ticket, { openid: 'o_lost_tap', createTime: 1718000778 }), { token: TOKEN });

      await flaky.post(signed.query, signed.body);
      const retry = await flaky.post(signed.query, signed.body);

      expect(retry.status).toBe(200);
      expect(readReply(retry.body).content).toMatch(/确认登录/);
      await settle();
      expect(changes).toEqual([{ ticket: ticket.id, status: 'scanned', version: 2 }]);
    } finally {
      await flaky.close();
    }
  });

  it('marks the ticket scanned and asks the scanner to confirm, without a login count', async () => {
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);

    const content = readReply((await hook.push(scanEvent(ticket, { openid: 'o_nina' }))).body).content ?? '';

    expect(content).toMatch(/确认/);
    expect(content).toContain('Chrome');
    expect(content).not.toMatch(/第 \d+ 次/);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('scanned');
    expect(await hook.engine.kv.get('wechat:logins:o_nina')).toBeNull();
    await settle();
    expect(changes).toEqual([{ ticket: ticket.id, status: 'scanned', version: 2 }]);
  });
});
