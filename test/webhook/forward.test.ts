/**
 * WECHAT_FORWARD_URL: a loopback stand-in for the account's existing backend receives every push that is not
 * a login scan byte for byte, verifies WeChat's signature itself (plaintext and safe mode), and its reply
 * reaches the sender; login scans stay ours; a backend that fails or stays silent past WeChat's budget leaves
 * WeChat with `success`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { webhookSettings } from '../../apps/webhook/index.js';
import { ConfigError, loadConfig } from '../../libs/config/index.js';
import { loginCountKey } from '../../libs/ticket/index.js';
import {
  buildEventXml,
  buildTextReplyXml,
  decryptMessage,
  encryptReply,
  messageSignature,
  pushSignature,
  readReply,
  signPush,
  signatureEquals,
  xmlElementText,
} from '../../libs/wechat/index.js';
import { AES_KEY, APP_ID, OA_ID, TOKEN } from '../support/fixtures.js';
import { serve } from '../support/http.js';
import { outcomeCount, scanEvent, startWebhook, type Harness } from '../support/webhook-harness.js';

/** One request as the stand-in backend received it. */
interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Answer = (received: Received, res: ServerResponse) => void;

/** The account's existing backend on loopback: records each request, answers with `answer`. */
async function standInBackend(answer: Answer) {
  const received: Received[] = [];
  const served = await serve((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      received.push(request);
      answer(request, res);
    });
  });
  return { ...served, received };
}

/** What a WeChat backend does first: check `signature` over its own Token (WECHAT.md §4). */
function plaintextSignatureHolds(received: Received): boolean {
  const query = new URL(received.url, 'http://backend').searchParams;
  return signatureEquals(pushSignature(TOKEN, query.get('timestamp') ?? '', query.get('nonce') ?? ''), query.get('signature') ?? undefined);
}

/** A text message from `openid` (the shape WeChat pushes for MsgType text). */
const textMessage = (openid: string, content: string): string =>
  buildTextReplyXml({ toUserName: OA_ID, fromUserName: openid, content, createTime: Math.floor(Date.now() / 1000) });

/** The backend's own reply to `received`'s sender. */
function backendReplyTo(xml: string, content: string): string {
  return buildTextReplyXml({
    toUserName: xmlElementText(xml, 'FromUserName') ?? '',
    fromUserName: OA_ID,
    content,
    createTime: Math.floor(Date.now() / 1000),
  });
}

describe('forwarding what is not ours', () => {
  let hook: Harness | undefined;
  let backend: Awaited<ReturnType<typeof standInBackend>> | undefined;
  afterEach(async () => {
    await hook?.close();
    await backend?.close();
    hook = undefined;
    backend = undefined;
  });

  it('plaintext: the backend gets the signed push byte for byte, checks the signature, and its reply reaches the sender', async () => {
    backend = await standInBackend((received, res) => {
      const xml = received.body.toString('utf8');
      if (!plaintextSignatureHolds(received)) {
        res.writeHead(401).end('bad signature');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/xml' }).end(backendReplyTo(xml, `你说：${xmlElementText(xml, 'Content')}`));
    });
    hook = await startWebhook({ forwardUrl: `${backend.url}/wx/endpoint` });
    const signed = signPush(textMessage('o_talker', '你好 ]] & <b>'), { token: TOKEN, openid: 'o_talker' });

    const res = await hook.post(signed.query, signed.body);

    expect(backend.received).toHaveLength(1);
    const [got] = backend.received;
    expect(got?.method).toBe('POST');
    expect(got?.url).toBe(`/wx/endpoint?${signed.query}`);
    expect(got?.body.equals(Buffer.from(signed.body, 'utf8'))).toBe(true);
    expect(got?.headers['content-type']).toBe('text/xml');
    expect(got?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/xml/);
    expect(readReply(res.body).content).toBe('你说：你好 ]] & <b>');
    expect(readReply(res.body).xml).toContain('<ToUserName><![CDATA[o_talker]]></ToUserName>');
    expect(await outcomeCount(hook.metrics, 'forwarded')).toBe(1);
  });

  it('safe mode: the backend verifies msg_signature over the same ciphertext, decrypts, and its encrypted reply reaches the sender', async () => {
    backend = await standInBackend((received, res) => {
      const query = new URL(received.url, 'http://backend').searchParams;
      const encrypt = xmlElementText(received.body.toString('utf8'), 'Encrypt') ?? '';
      const expected = messageSignature(TOKEN, query.get('timestamp') ?? '', query.get('nonce') ?? '', encrypt);
      if (query.get('encrypt_type') !== 'aes' || !signatureEquals(expected, query.get('msg_signature') ?? undefined)) {
        res.writeHead(401).end('bad msg_signature');
        return;
      }
      const { message } = decryptMessage(AES_KEY, encrypt);
      const reply = backendReplyTo(message, `菜单：${xmlElementText(message, 'EventKey')}`);
      res
        .writeHead(200, { 'content-type': 'application/xml' })
        .end(encryptReply(reply, { token: TOKEN, encodingAesKey: AES_KEY, appId: APP_ID }));
    });
    hook = await startWebhook({ forwardUrl: `${backend.url}/wx`, aesKey: AES_KEY, requireEncryption: true });
    const click = buildEventXml({
      toUserName: OA_ID,
      fromUserName: 'o_clicker',
      createTime: Math.floor(Date.now() / 1000),
      event: 'CLICK',
      eventKey: 'MENU_NEWS',
    });
    const signed = signPush(click, { token: TOKEN, aes: { encodingAesKey: AES_KEY, appId: APP_ID } });

    const res = await hook.post(signed.query, signed.body);

    expect(backend.received).toHaveLength(1);
    expect(backend.received[0]?.url).toBe(`/wx?${signed.query}`);
    expect(backend.received[0]?.body.equals(Buffer.from(signed.body, 'utf8'))).toBe(true);
    expect(res.status).toBe(200);
    expect(res.body).not.toContain('菜单');
    expect(readReply(res.body, { token: TOKEN, encodingAesKey: AES_KEY }).content).toBe('菜单：MENU_NEWS');
  });

  it("forwards follows without our scene, the account's own scenes, unfollows (still forgetting the count) and other events; a login scan stays ours", async () => {
    backend = await standInBackend((_received, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('success'));
    hook = await startWebhook({ forwardUrl: `${backend.url}/wx`, confirmation: 'scan' });
    await hook.engine.kv.increment(loginCountKey('o_leaver'));
    const base = { toUserName: OA_ID, createTime: Math.floor(Date.now() / 1000) };
    const others = [
      buildEventXml({ ...base, fromUserName: 'o_follower', event: 'subscribe' }),
      buildEventXml({ ...base, fromUserName: 'o_poster', event: 'subscribe', eventKey: 'qrscene_123' }),
      buildEventXml({ ...base, fromUserName: 'o_poster2', event: 'SCAN', eventKey: '123' }),
      buildEventXml({ ...base, fromUserName: 'o_leaver', event: 'unsubscribe', eventKey: '' }),
      buildEventXml({ ...base, fromUserName: 'o_walker', event: 'LOCATION' }),
    ];
    for (const xml of others) {
      const res = await hook.push(xml);
      expect(res.body).toBe('success');
    }
    expect(backend.received.map((r) => r.body.toString('utf8'))).toEqual(others);
    expect(await hook.engine.kv.get(loginCountKey('o_leaver'))).toBeNull();

    const ticket = await hook.createTicket();
    const scan = await hook.push(scanEvent(ticket, { openid: 'o_scanner', event: 'subscribe' }));
    expect(readReply(scan.body).content).toContain('扫码登录成功');
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
    // An expired or unknown ticket id is still ours: the scanner is told to refresh, the backend hears nothing.
    const stale = await hook.push(scanEvent({ ...ticket, id: 'AAAAAAAAAAAAAAAAAAAAAA' }, { openid: 'o_scanner', event: 'SCAN' }));
    expect(readReply(stale.body).content).toContain('已过期');
    expect(backend.received).toHaveLength(others.length);
  });

  it("a backend that stays silent past the time left of WeChat's budget: WeChat gets success in time", async () => {
    const held: ServerResponse[] = [];
    backend = await standInBackend((_received, res) => held.push(res));
    hook = await startWebhook({ forwardUrl: `${backend.url}/wx` }, { replyDeadlineMs: 400 });
    const res = await hook.push(textMessage('o_waiter', 'anyone?'));
    expect(res.status).toBe(200);
    expect(res.body).toBe('success');
    expect(held).toHaveLength(1);
    // The backend never answered: the answer came from the budget running out.
    expect(held.every((r) => !r.headersSent)).toBe(true);
    expect(await outcomeCount(hook.metrics, 'forward_failed')).toBe(1);
    expect(hook.logs()).toContain('no answer within');
  });

  it("a backend that fails, redirects or is down: WeChat gets success, nothing of the backend's error leaks", async () => {
    let answer: Answer = (_r, res) => res.writeHead(500, { 'content-type': 'text/html' }).end('<h1>stack trace</h1>');
    backend = await standInBackend((r, res) => answer(r, res));
    hook = await startWebhook({ forwardUrl: `${backend.url}/wx` });

    const failed = await hook.push(textMessage('o_one', 'a'));
    expect([failed.status, failed.body]).toEqual([200, 'success']);
    answer = (_r, res) => res.writeHead(302, { location: 'http://elsewhere.invalid/' }).end();
    const redirected = await hook.push(textMessage('o_two', 'b'));
    expect([redirected.status, redirected.body]).toEqual([200, 'success']);
    expect(backend.received).toHaveLength(2);

    await backend.close();
    const down = await hook.push(textMessage('o_three', 'c'));
    expect([down.status, down.body]).toEqual([200, 'success']);
    expect(await outcomeCount(hook.metrics, 'forward_failed')).toBe(3);
  });

  it('a forged push is refused before anything is forwarded', async () => {
    backend = await standInBackend((_r, res) => res.end('success'));
    hook = await startWebhook({ forwardUrl: `${backend.url}/wx` });
    const signed = signPush(textMessage('o_forger', 'x'), { token: 'not-the-token' });
    const res = await hook.post(signed.query, signed.body);
    expect(res.status).toBe(401);
    expect(backend.received).toHaveLength(0);
  });
});

describe('WECHAT_FORWARD_URL in the configuration', () => {
  const env = { WECHAT_APPID: APP_ID, WECHAT_TOKEN: TOKEN, LOGIN_CONFIRMATION: 'scan' };

  it("is the webhook's forward URL; unset, nothing is forwarded", () => {
    expect(
      webhookSettings(loadConfig({ ...env, WECHAT_FORWARD_URL: 'https://backend.example.com/wx' }), { inProcess: true }).forwardUrl,
    ).toBe('https://backend.example.com/wx');
    expect(webhookSettings(loadConfig(env), { inProcess: true }).forwardUrl).toBeUndefined();
  });

  it('refuses a URL with its own query string, or not http(s)', () => {
    expect(() => loadConfig({ ...env, WECHAT_FORWARD_URL: 'https://backend.example.com/wx?token=1' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, WECHAT_FORWARD_URL: 'https://backend.example.com/wx?token=1' })).toThrow(
      /WECHAT_FORWARD_URL: expected a URL without \?query/,
    );
    expect(() => loadConfig({ ...env, WECHAT_FORWARD_URL: 'ftp://backend.example.com/wx' })).toThrow(/WECHAT_FORWARD_URL/);
  });
});
