/**
 * The simulator speaks WeChat's protocol: its API answers, its event sequencing, its signatures and
 * encryption, and its retries, checked over real HTTP against a stand-in webhook.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildTextReplyXml,
  decryptMessage,
  encryptReply,
  messageSignature,
  pushSignature,
  xmlElementText,
} from '../../libs/wechat/index.js';
import type { Served } from '../support/http.js';
import { SIM_ACCOUNT, delay, never, serveSim, serveWebhook, type ServedSim } from './sim-harness.js';

const started: Served[] = [];
afterEach(async () => {
  // The simulator first, so that no push is in flight when the webhook closes.
  for (const served of started.reverse()) await served.close();
  started.length = 0;
});

async function track<T extends Served>(served: Promise<T>): Promise<T> {
  const s = await served;
  started.push(s);
  return s;
}

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function stableToken(sim: ServedSim, forceRefresh = false): Promise<string> {
  const { json } = await post(`${sim.url}/cgi-bin/stable_token`, {
    grant_type: 'client_credential',
    appid: SIM_ACCOUNT.appId,
    secret: SIM_ACCOUNT.appSecret,
    force_refresh: forceRefresh,
  });
  expect(json.expires_in).toBeGreaterThanOrEqual(300);
  return String(json.access_token);
}

async function createCode(sim: ServedSim, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const accessToken = token ?? (await stableToken(sim));
  return (await post(`${sim.url}/cgi-bin/qrcode/create?access_token=${encodeURIComponent(accessToken)}`, body)).json;
}

const strScene = (scene: string, expireSeconds = 120) => ({
  expire_seconds: expireSeconds,
  action_name: 'QR_STR_SCENE',
  action_info: { scene: { scene_str: scene } },
});

describe('tokens', () => {
  it('stable_token returns the same token in normal mode and rotates on force_refresh', async () => {
    const sim = await track(serveSim());
    const first = await stableToken(sim);
    expect(await stableToken(sim)).toBe(first);
    const forced = await stableToken(sim, true);
    expect(forced).not.toBe(first);
    expect((await createCode(sim, strScene('lg_a'), first)).errcode).toBe(40001);
    expect((await createCode(sim, strScene('lg_a'), forced)).ticket).toEqual(expect.any(String));
    // Forced refreshes closer than 30 s apart do not refresh (WECHAT.md §1.2).
    expect(await stableToken(sim, true)).toBe(forced);
    expect(sim.sim.stats().stableTokenCalls).toBe(4);
  });

  it('rejects a wrong appid or secret with WeChat errcodes', async () => {
    const sim = await track(serveSim());
    const call = (appid: string, secret: string) =>
      post(`${sim.url}/cgi-bin/stable_token`, { grant_type: 'client_credential', appid, secret });
    expect((await call('wxother', SIM_ACCOUNT.appSecret)).json.errcode).toBe(40013);
    expect((await call(SIM_ACCOUNT.appId, 'wrong')).json.errcode).toBe(40125);
  });

  it('/cgi-bin/token rotates on every call, independently of stable tokens', async () => {
    const sim = await track(serveSim());
    const query = `grant_type=client_credential&appid=${SIM_ACCOUNT.appId}&secret=${SIM_ACCOUNT.appSecret}`;
    const get = async () => ((await (await fetch(`${sim.url}/cgi-bin/token?${query}`)).json()) as { access_token: string }).access_token;
    const stable = await stableToken(sim);
    const a = await get();
    const b = await get();
    expect(a).not.toBe(b);
    expect(await stableToken(sim)).toBe(stable);
    expect(sim.sim.stats().tokenCalls).toBe(2);
  });
});

describe('qrcode/create', () => {
  it('checks the access token', async () => {
    const sim = await track(serveSim());
    expect((await post(`${sim.url}/cgi-bin/qrcode/create`, strScene('lg_x'))).json.errcode).toBe(41001);
    expect((await createCode(sim, strScene('lg_x'), 'bogus')).errcode).toBe(40001);
  });

  it('validates the body as WeChat does', async () => {
    const sim = await track(serveSim());
    const token = await stableToken(sim);
    expect((await createCode(sim, strScene('x'.repeat(65)), token)).errcode).toBe(40097);
    expect((await createCode(sim, strScene(''), token)).errcode).toBe(40097);
    expect((await createCode(sim, strScene('lg_y', 2_592_001), token)).errcode).toBe(40097);
    expect((await createCode(sim, { action_name: 'QR_SCENE', action_info: { scene: { scene_id: 0 } } }, token)).errcode).toBe(40097);
    const noExpiry = await createCode(sim, { action_name: 'QR_STR_SCENE', action_info: { scene: { scene_str: 'lg_z' } } }, token);
    expect(noExpiry.expire_seconds).toBe(60);
    const code = await createCode(sim, strScene('x'.repeat(64), 2_592_000), token);
    expect(code).toEqual({
      ticket: expect.stringMatching(/[+/]/),
      expire_seconds: 2_592_000,
      url: expect.stringMatching(/^http:\/\/weixin\.qq\.com\/q\//),
    });
  });

  it('accepts a scene outside the `scene` wrapper but reports scene 0, like WeChat', async () => {
    const webhook = await track(serveWebhook());
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    const code = await createCode(sim, { expire_seconds: 60, action_name: 'QR_STR_SCENE', action_info: { scene_str: 'lg_lost' } });
    await sim.sim.scan({ qrTicket: String(code.ticket), openid: 'oWrapper' });
    expect(xmlElementText(webhook.received[0]!.body, 'EventKey')).toBe('qrscene_0');
  });
});

describe('showqrcode', () => {
  it('serves a cacheable PNG for a live ticket and 404 for an unknown one', async () => {
    const sim = await track(serveSim());
    const code = await createCode(sim, strScene('lg_img', 300));
    const image = await fetch(`${sim.url}/cgi-bin/showqrcode?ticket=${encodeURIComponent(String(code.ticket))}`);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(image.headers.get('cache-control')).toMatch(/^max-age=(29\d|300)$/);
    expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(100);
    expect((await fetch(`${sim.url}/cgi-bin/showqrcode?ticket=gQunknown%3D%3D`)).status).toBe(404);
    // Unencoded, `+` becomes a space: the classic encoding bug gets WeChat's 404.
    expect((await fetch(`${sim.url}/cgi-bin/showqrcode?ticket=${String(code.ticket)}`)).status).toBe(404);
  });
});

describe('scan', () => {
  it('pushes subscribe with the qrscene_ prefix to a new follower, then SCAN with the bare scene', async () => {
    const webhook = await track(
      serveWebhook((push) => ({
        body: buildTextReplyXml({
          toUserName: xmlElementText(push.body, 'FromUserName') ?? '',
          fromUserName: 'gh_qrgatesim000',
          content: 'Signed in. Details: https://example.test/confirm?x=1',
          createTime: 1,
        }),
      })),
    );
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    const code = await createCode(sim, strScene('lg_seq'));
    const openid = 'oSeq0000000000000000000000001';

    const first = await post(`${sim.url}/sim/api/scan`, { scene: 'lg_seq', openid });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ delivered: true, attempts: 1, status: 200, event: 'subscribe' });
    expect(first.json.reply).toBe('Signed in. Details: https://example.test/confirm?x=1');
    const subscribe = webhook.received[0]!;
    expect(subscribe.contentType).toBe('text/xml');
    expect(xmlElementText(subscribe.body, 'Event')).toBe('subscribe');
    expect(xmlElementText(subscribe.body, 'EventKey')).toBe('qrscene_lg_seq');
    expect(xmlElementText(subscribe.body, 'Ticket')).toBe(code.ticket);
    expect(xmlElementText(subscribe.body, 'FromUserName')).toBe(openid);
    expect(xmlElementText(subscribe.body, 'ToUserName')).toBe('gh_qrgatesim000');

    const second = await post(`${sim.url}/sim/api/scan`, { qrTicket: code.ticket, openid });
    expect(second.json.event).toBe('SCAN');
    const scan = webhook.received[1]!;
    expect(xmlElementText(scan.body, 'Event')).toBe('SCAN');
    expect(xmlElementText(scan.body, 'EventKey')).toBe('lg_seq');
    expect(xmlElementText(scan.body, 'Ticket')).toBe(code.ticket);
  });

  it('follow forces a SCAN; unfollow pushes unsubscribe and the next scan is a subscribe again', async () => {
    const webhook = await track(serveWebhook());
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    await createCode(sim, strScene('lg_follow'));
    const openid = 'oFollow00000000000000000000001';
    expect((await post(`${sim.url}/sim/api/follow`, { openid })).json).toEqual({ openid, following: true });
    expect(webhook.received).toHaveLength(0);
    expect((await post(`${sim.url}/sim/api/scan`, { scene: 'lg_follow', openid })).json.event).toBe('SCAN');
    const unfollow = await post(`${sim.url}/sim/api/unfollow`, { openid });
    expect(unfollow.json).toMatchObject({ delivered: true, attempts: 1, reply: null });
    expect(xmlElementText(webhook.received[1]!.body, 'Event')).toBe('unsubscribe');
    expect((await post(`${sim.url}/sim/api/unfollow`, { openid })).status).toBe(409);
    expect((await post(`${sim.url}/sim/api/scan`, { scene: 'lg_follow', openid })).json.event).toBe('subscribe');
  });

  it('answers 404 for an unknown code and 400 for a malformed request', async () => {
    const sim = await track(serveSim());
    const unknown = await post(`${sim.url}/sim/api/scan`, { scene: 'lg_nope', openid: 'oX' });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatch(/no live QR code/);
    expect((await post(`${sim.url}/sim/api/scan`, { scene: 'lg_nope' })).status).toBe(400);
  });

  it('lists live codes, newest first', async () => {
    const sim = await track(serveSim());
    const token = await stableToken(sim);
    const a = await createCode(sim, strScene('lg_1'), token);
    const b = await createCode(sim, strScene('lg_2'), token);
    const codes = (await (await fetch(`${sim.url}/sim/api/codes`)).json()) as Array<Record<string, unknown>>;
    expect(codes.map((c) => c.qrTicket)).toEqual([b.ticket, a.ticket]);
    expect(codes[0]).toMatchObject({ scene: 'lg_2', url: b.url, expiresAt: expect.any(Number) });
  });
});

describe('signing and safe mode', () => {
  it('signs a plaintext push over token, timestamp and nonce, with the openid', async () => {
    const webhook = await track(serveWebhook());
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    await createCode(sim, strScene('lg_sig'));
    await sim.sim.scan({ scene: 'lg_sig', openid: 'oSig' });
    const query = new URLSearchParams(webhook.received[0]!.query);
    const timestamp = query.get('timestamp') ?? '';
    const nonce = query.get('nonce') ?? '';
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(query.get('signature')).toBe(pushSignature(SIM_ACCOUNT.token, timestamp, nonce));
    expect(query.get('openid')).toBe('oSig');
    expect(query.get('encrypt_type')).toBeNull();
  });

  it('encrypts in safe mode; the push decrypts with the right msg_signature and the reply is decrypted', async () => {
    const webhook = await track(
      serveWebhook(() => ({
        body: encryptReply(
          buildTextReplyXml({ toUserName: 'oAes', fromUserName: 'gh_qrgatesim000', content: 'Welcome back', createTime: 1 }),
          { token: SIM_ACCOUNT.token, encodingAesKey: SIM_ACCOUNT.encodingAesKey, appId: SIM_ACCOUNT.appId },
        ),
      })),
    );
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat`, encodingAesKey: SIM_ACCOUNT.encodingAesKey }));
    await createCode(sim, strScene('lg_aes'));
    const result = await sim.sim.scan({ scene: 'lg_aes', openid: 'oAes' });
    expect(result).toMatchObject({ delivered: true, event: 'subscribe', reply: 'Welcome back' });
    expect(result.replyError).toBeUndefined();

    const push = webhook.received[0]!;
    const query = new URLSearchParams(push.query);
    const timestamp = query.get('timestamp') ?? '';
    const nonce = query.get('nonce') ?? '';
    const encrypt = xmlElementText(push.body, 'Encrypt') ?? '';
    expect(query.get('encrypt_type')).toBe('aes');
    expect(query.get('signature')).toBe(pushSignature(SIM_ACCOUNT.token, timestamp, nonce));
    expect(query.get('msg_signature')).toBe(messageSignature(SIM_ACCOUNT.token, timestamp, nonce, encrypt));
    expect(xmlElementText(push.body, 'Event')).toBeUndefined();
    const inner = decryptMessage(SIM_ACCOUNT.encodingAesKey, encrypt);
    expect(inner.appId).toBe(SIM_ACCOUNT.appId);
    expect(xmlElementText(inner.message, 'EventKey')).toBe('qrscene_lg_aes');

    // The scanner can still ask for a plaintext push.
    await sim.sim.scan({ scene: 'lg_aes', openid: 'oAes', encrypt: false });
    expect(new URLSearchParams(webhook.received[1]!.query).get('encrypt_type')).toBeNull();
    expect(xmlElementText(webhook.received[1]!.body, 'Event')).toBe('SCAN');
  });

  it('reports a reply whose MsgSignature does not match instead of showing it', async () => {
    const webhook = await track(
      serveWebhook(() => ({
        body: encryptReply(buildTextReplyXml({ toUserName: 'o', fromUserName: 'gh', content: 'forged', createTime: 1 }), {
          token: 'another-token',
          encodingAesKey: SIM_ACCOUNT.encodingAesKey,
          appId: SIM_ACCOUNT.appId,
        }),
      })),
    );
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat`, encodingAesKey: SIM_ACCOUNT.encodingAesKey }));
    await createCode(sim, strScene('lg_forged'));
    const result = await sim.sim.scan({ scene: 'lg_forged', openid: 'oForged' });
    expect(result.reply).toBeNull();
    expect(result.replyError).toMatch(/MsgSignature/);
  });
});

describe('retries', () => {
  it('resends the identical request when the webhook does not answer in time', async () => {
    const webhook = await track(
      serveWebhook(async (_push, index) => {
        // Far longer than the deadline, so that even a loaded machine sees the first delivery time out.
        if (index === 0) await delay(3_000);
        return { body: 'success' };
      }),
    );
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat`, retryTimeoutMs: 500 }));
    await createCode(sim, strScene('lg_retry'));
    const result = await post(`${sim.url}/sim/api/scan`, { scene: 'lg_retry', openid: 'oRetry' });
    expect(result.json).toMatchObject({ delivered: true, attempts: 2, status: 200, reply: null, rawBody: 'success' });
    expect(webhook.received).toHaveLength(2);
    expect(webhook.received[1]!.query).toBe(webhook.received[0]!.query);
    expect(webhook.received[1]!.body).toBe(webhook.received[0]!.body);
    expect(sim.sim.stats().pushes).toBe(2);
  });

  it('stops after maxAttempts deliveries when the webhook never answers', async () => {
    const webhook = await track(serveWebhook(never));
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat`, retryTimeoutMs: 200, maxAttempts: 3 }));
    await createCode(sim, strScene('lg_dead'));
    const result = await sim.sim.scan({ scene: 'lg_dead', openid: 'oDead' });
    expect(result).toMatchObject({ delivered: false, attempts: 3, status: 0, reply: null, deliveryError: 'no answer within 200 ms' });
    expect(webhook.received).toHaveLength(3);
  });

  it('resends the same request after a server error, and stops at maxAttempts', async () => {
    const webhook = await track(serveWebhook((_push, index) => (index === 0 ? { status: 503, body: '' } : { body: 'success' })));
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    await createCode(sim, strScene('lg_503'));
    expect(await sim.sim.scan({ scene: 'lg_503', openid: 'o503' })).toMatchObject({ delivered: true, attempts: 2, status: 200 });
    expect(webhook.received[1]).toEqual(webhook.received[0]);

    const broken = await track(serveWebhook(() => ({ status: 500, body: 'oops' })));
    const stuck = await track(serveSim({ webhookUrl: `${broken.url}/wechat`, maxAttempts: 3 }));
    await createCode(stuck, strScene('lg_500'));
    expect(await stuck.sim.scan({ scene: 'lg_500', openid: 'o500' })).toMatchObject({
      delivered: true,
      attempts: 3,
      status: 500,
      reply: null,
    });
  });

  it('does not resend when the webhook refuses the request (4xx)', async () => {
    const webhook = await track(serveWebhook(() => ({ status: 401, body: 'invalid signature' })));
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    await createCode(sim, strScene('lg_401'));
    expect(await sim.sim.scan({ scene: 'lg_401', openid: 'o401' })).toMatchObject({
      delivered: true,
      attempts: 1,
      status: 401,
      reply: null,
    });
    expect(webhook.received).toHaveLength(1);
  });
});

describe('user/info', () => {
  it('answers like WeChat since 2021: empty nickname and avatar, the QR scene', async () => {
    const webhook = await track(serveWebhook());
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    const token = await stableToken(sim);
    await createCode(sim, strScene('lg_info'), token);
    await sim.sim.scan({ scene: 'lg_info', openid: 'oInfo' });
    const info = (await (
      await fetch(`${sim.url}/cgi-bin/user/info?access_token=${encodeURIComponent(token)}&openid=oInfo&lang=zh_CN`)
    ).json()) as Record<string, unknown>;
    expect(info).toMatchObject({
      subscribe: 1,
      openid: 'oInfo',
      nickname: '',
      headimgurl: '',
      qr_scene_str: 'lg_info',
      subscribe_scene: 'ADD_SCENE_QR_CODE',
    });
    expect(info.subscribe_time).toEqual(expect.any(Number));
  });
});

describe('stats and phone page', () => {
  it('counts calls and pushes, and resets', async () => {
    const webhook = await track(serveWebhook());
    const sim = await track(serveSim({ webhookUrl: `${webhook.url}/wechat` }));
    const token = await stableToken(sim);
    await createCode(sim, strScene('lg_s1'), token);
    await createCode(sim, strScene('lg_s2'), token);
    await fetch(`${sim.url}/cgi-bin/user/info?access_token=${encodeURIComponent(token)}&openid=oStats`);
    await sim.sim.scan({ scene: 'lg_s1', openid: 'oStats' });
    const stats = async () => (await (await fetch(`${sim.url}/sim/api/stats`)).json()) as Record<string, number>;
    expect(await stats()).toEqual({ stableTokenCalls: 1, tokenCalls: 0, qrcodeCreateCalls: 2, userInfoCalls: 1, pushes: 1 });
    expect((await post(`${sim.url}/sim/api/reset-stats`, {})).status).toBe(200);
    expect(await stats()).toEqual({ stableTokenCalls: 0, tokenCalls: 0, qrcodeCreateCalls: 0, userInfoCalls: 0, pushes: 0 });
  });

  it('serves a self-contained phone page', async () => {
    const sim = await track(serveSim());
    const res = await fetch(`${sim.url}/sim`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('name="viewport"');
    expect(html).toContain('/sim/api/scan');
    expect(html).toContain('Open link');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)="https?:/);
  });
});
