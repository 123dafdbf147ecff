/**
 * Safe mode (WECHAT.md §7): msg_signature over the ciphertext, decryption with the current or the previous
 * key, the AppID check, and a reply encrypted with the key that decrypted the push.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { messageSignature, pushSignature, readReply, signPush } from '../../libs/wechat/index.js';
import { AES_KEY, OA_ID, PREVIOUS_AES_KEY, TOKEN } from '../support/fixtures.js';
import { aes, outcomeCount, scanEvent, startWebhook, type Harness } from '../support/webhook-harness.js';

/** A safe-mode push whose Encrypt value is `encrypt`, correctly signed over it. */
function signedEnvelope(encrypt: string): { query: string; body: string } {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = '1329057741';
  const query = new URLSearchParams({
    signature: pushSignature(TOKEN, timestamp, nonce),
    timestamp,
    nonce,
    encrypt_type: 'aes',
    msg_signature: messageSignature(TOKEN, timestamp, nonce, encrypt),
  });
  return {
    query: query.toString(),
    body: `<xml><ToUserName><![CDATA[${OA_ID}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
  };
}

describe('safe mode', () => {
  let hook: Harness;
  afterEach(async () => {
    await hook.close();
  });

  it('decrypts a push and encrypts the reply so that it decrypts with the same key', async () => {
    hook = await startWebhook({ aesKey: AES_KEY, aesKeyPrevious: PREVIOUS_AES_KEY });
    const ticket = await hook.createTicket();

    const res = await hook.push(scanEvent(ticket, { openid: 'o_safe', event: 'subscribe' }), aes(AES_KEY));

    expect(res.status).toBe(200);
    expect(res.body).toContain('<Encrypt>');
    expect(res.body).not.toContain('Chrome');
    const { content } = readReply(res.body, { token: TOKEN, encodingAesKey: AES_KEY });
    expect(content).toContain('Chrome');
    expect(content).toMatch(/第 1 次/);
    expect(Number(/<TimeStamp>(\d+)<\/TimeStamp>/.exec(res.body)?.[1])).toBeLessThan(10_000_000_000);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
  });

  it('accepts the previous key during a rotation and answers with that key', async () => {
    hook = await startWebhook({ aesKey: AES_KEY, aesKeyPrevious: PREVIOUS_AES_KEY });
    const ticket = await hook.createTicket();

    const res = await hook.push(scanEvent(ticket, { openid: 'o_rotate' }), aes(PREVIOUS_AES_KEY));

    expect(res.status).toBe(200);
    expect(readReply(res.body, { token: TOKEN, encodingAesKey: PREVIOUS_AES_KEY }).content).toContain('Chrome');
    expect(() => readReply(res.body, { token: TOKEN, encodingAesKey: AES_KEY })).toThrow();
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
  });

  it('refuses a wrong msg_signature with 401', async () => {
    hook = await startWebhook({ aesKey: AES_KEY });
    const ticket = await hook.createTicket();
    const signed = signPush(scanEvent(ticket, { openid: 'o_x' }), { token: TOKEN, ...aes() });
    const query = new URLSearchParams(signed.query);
    query.set('msg_signature', '0'.repeat(40));

    const res = await hook.post(query.toString(), signed.body);

    expect(res.status).toBe(401);
    expect(res.body).toBe('invalid msg_signature');
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
  });

  it('refuses malformed ciphertext with 400', async () => {
    hook = await startWebhook({ aesKey: AES_KEY });
    for (const encrypt of ['bm90IGEgYmxvY2sgbXVsdGlwbGU=', 'A'.repeat(64), '***not base64***']) {
      const envelope = signedEnvelope(encrypt);
      const res = await hook.post(envelope.query, envelope.body);
      expect(res.status).toBe(400);
      expect(res.body).toBe('malformed ciphertext');
    }
    expect(await outcomeCount(hook.metrics, 'bad_ciphertext')).toBe(3);
    expect((await hook.get('/healthz')).status).toBe(200);
  });

  it('refuses ciphertext for another AppID with 400', async () => {
    hook = await startWebhook({ aesKey: AES_KEY });
    const ticket = await hook.createTicket();

    const res = await hook.push(scanEvent(ticket, { openid: 'o_x' }), aes(AES_KEY, 'wxsomeoneelse0000'));

    expect(res.status).toBe(400);
    expect(res.body).toBe('decrypted message is for another AppID');
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
  });

  it('refuses a decrypted message with a forbidden element', async () => {
    hook = await startWebhook({ aesKey: AES_KEY });
    const res = await hook.push('<xml><__proto__><a>1</a></__proto__></xml>', aes());
    expect(res.status).toBe(400);
    expect(res.body).toBe('decrypted message contains a forbidden element name');
  });

  it('refuses plaintext pushes when encryption is required, and still accepts encrypted ones', async () => {
    hook = await startWebhook({ aesKey: AES_KEY, requireEncryption: true });
    const ticket = await hook.createTicket();

    const plain = await hook.push(scanEvent(ticket, { openid: 'o_plain', createTime: 1718000001 }));
    expect(plain.status).toBe(400);
    expect(plain.body).toMatch(/plaintext push refused/);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');

    const encrypted = await hook.push(scanEvent(ticket, { openid: 'o_plain', createTime: 1718000002 }), aes());
    expect(readReply(encrypted.body, { token: TOKEN, encodingAesKey: AES_KEY }).content).toContain('Chrome');
    expect(await outcomeCount(hook.metrics, 'encryption_required')).toBe(1);
  });

  it('uses only the decrypted message in compatible mode (plaintext fields are ignored)', async () => {
    hook = await startWebhook({ aesKey: AES_KEY });
    const ticket = await hook.createTicket();
    const decoy = await hook.createTicket();
    const signed = signPush(scanEvent(ticket, { openid: 'o_compat' }), { token: TOKEN, ...aes() });
    const body = signed.body.replace(
      '</xml>',
      `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[${decoy.id}]]></EventKey><Ticket><![CDATA[${decoy.qr.wechatTicket}]]></Ticket></xml>`,
    );

    const res = await hook.post(signed.query, body);

    expect(res.status).toBe(200);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
    expect((await hook.engine.tickets.get(decoy.id))?.status).toBe('pending');
  });
});
