/**
 * What an attacker (or a confused proxy) can send: forged or stale signatures, oversized and malformed bodies.
 * Each gets a 4xx with a specific message, changes nothing, and the process keeps serving.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pushSignature, signPush } from '../../libs/wechat/index.js';
import { TOKEN } from '../support/fixtures.js';
import { outcomeCount, scanEvent, settle, startWebhook, type Harness } from '../support/webhook-harness.js';

/** A correctly signed, fresh query string for an arbitrary body. */
function signedQuery(nowMs = Date.now()): string {
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = String(Math.floor(Math.random() * 1e9));
  return new URLSearchParams({ signature: pushSignature(TOKEN, timestamp, nonce), timestamp, nonce }).toString();
}

describe('hostile pushes', () => {
  let hook: Harness;
  beforeEach(async () => {
    hook = await startWebhook();
  });
  afterEach(async () => {
    await hook.close();
  });

  it('refuses a forged signature with 401: ticket still pending, nothing published', async () => {
    const ticket = await hook.createTicket();
    const changes = await hook.watch(ticket.id);

    const res = await hook.push(scanEvent(ticket, { openid: 'o_mallory' }), { token: 'not-the-token' });

    expect(res.status).toBe(401);
    expect(res.body).toBe('invalid signature');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
    await settle();
    expect(changes).toHaveLength(0);
    expect(await outcomeCount(hook.metrics, 'bad_signature')).toBe(1);
  });

  it('refuses a push without signature parameters, or with a repeated one', async () => {
    const ticket = await hook.createTicket();
    const missing = await hook.post('', scanEvent(ticket, { openid: 'o_x' }));
    const doubled = await hook.post(`${signedQuery()}&signature=${'0'.repeat(40)}`, scanEvent(ticket, { openid: 'o_x' }));
    expect(missing.status).toBe(401);
    expect(doubled.status).toBe(401);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
  });

  it('refuses stale and future timestamps with 401', async () => {
    const ticket = await hook.createTicket();
    const stale = await hook.push(scanEvent(ticket, { openid: 'o_x' }), { timestamp: Math.floor(Date.now() / 1000) - 301 });
    const future = await hook.push(scanEvent(ticket, { openid: 'o_x' }), { timestamp: Math.floor(Date.now() / 1000) + 301 });

    for (const res of [stale, future]) {
      expect(res.status).toBe(401);
      expect(res.body).toMatch(/^stale timestamp/);
    }
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
    expect(await outcomeCount(hook.metrics, 'stale')).toBe(2);
  });

  it('refuses a 100 KB body with 413', async () => {
    const ticket = await hook.createTicket();
    const padding = `<Padding>${'x'.repeat(100 * 1024)}</Padding>`;
    const xml = scanEvent(ticket, { openid: 'o_big' }).replace('</xml>', `${padding}</xml>`);

    const res = await hook.push(xml);

    expect(res.status).toBe(413);
    expect(res.body).toMatch(/exceeds 65536 bytes/);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('pending');
    expect(await outcomeCount(hook.metrics, 'too_large')).toBe(1);
  });

  const badBodies: Array<[string, string, RegExp]> = [
    ['an empty body', '', /body is empty/],
    ['a blank body', '   \n', /body is empty/],
    ['an <a/> root', '<a/>', /must be an <xml> document/],
    ['text instead of XML', 'success', /must be an <xml> document/],
    ['malformed XML', '<xml><MsgType>event</xml>', /malformed XML/],
    ['unclosed XML', '<xml><MsgType><![CDATA[event', /malformed XML/],
    ['a DOCTYPE', '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x "y">]><xml><a>&x;</a></xml>', /DOCTYPE or ENTITY/],
    ['an ENTITY after the root', '<xml><!ENTITY x "y"></xml>', /DOCTYPE or ENTITY/],
    ['a <__proto__> element', '<xml><__proto__><MsgType>event</MsgType></__proto__></xml>', /forbidden element name/],
    ['a <constructor> element', '<xml><MsgType>event</MsgType><constructor>1</constructor></xml>', /forbidden element name/],
    ['a <prototype/> element', '<xml><prototype/></xml>', /forbidden element name/],
    // A regex that strips CDATA also strips a CDATA opener written inside a comment, and what follows it.
    [
      'a <__proto__> between comments that hold CDATA markers',
      '<xml><!-- <![CDATA[ --><__proto__>x</__proto__><!-- ]]> --></xml>',
      /must not contain comments/,
    ],
    [
      'a DOCTYPE between comments that hold CDATA markers',
      '<!-- <![CDATA[ --><!DOCTYPE xml [<!ENTITY x "y">]><!-- ]]> --><xml><a>&x;</a></xml>',
      /must not contain comments/,
    ],
    ['a plain comment', '<xml><MsgType>event</MsgType><!-- hi --></xml>', /must not contain comments/],
    ['a processing instruction inside the root', '<xml><?php echo 1 ?></xml>', /must not contain processing instructions/],
    ['a processing instruction before the root', '<?xml-stylesheet href="x"?><xml/>', /must not contain processing instructions/],
    ['an XML declaration that is not first', '<xml/><?xml version="1.0"?>', /must not contain processing instructions/],
    ['a second root element', '<xml><MsgType>event</MsgType></xml><__proto__>x</__proto__>', /after the root element/],
    ['text after the root element', '<xml><MsgType>event</MsgType></xml>trailing', /after the root element/],
    ['CDATA after the root element', '<xml/><![CDATA[x]]>', /after the root element/],
    ['a CDATA opener inside an attribute value', '<xml a="<![CDATA["><__proto__/>"]]>"</xml>', /'<' inside a tag/],
    ['another markup declaration', '<xml><!ELEMENT xml ANY></xml>', /must not contain markup declarations/],
  ];

  it.each(badBodies)('refuses %s with 400 and keeps serving', async (_name, body, message) => {
    const res = await hook.post(signedQuery(), body);

    expect(res.status).toBe(400);
    expect(res.body).toMatch(message);
    expect((await hook.get('/healthz')).status).toBe(200);
  });

  it('still handles a message whose CDATA text merely mentions a forbidden name', async () => {
    const body =
      '<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_text]]></FromUserName>' +
      '<CreateTime>1718000000</CreateTime><MsgType><![CDATA[text]]></MsgType>' +
      '<Content><![CDATA[what is <constructor> in JS?]]></Content></xml>';
    const res = await hook.post(signedQuery(), body);
    expect(res.status).toBe(200);
    expect(res.body).toBe('success');
  });

  it('still handles a message whose CDATA text holds comment and processing-instruction markers', async () => {
    const body =
      '<?xml version="1.0" encoding="utf-8"?>\n<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_text]]></FromUserName>' +
      '<CreateTime>1718000000</CreateTime><MsgType><![CDATA[text]]></MsgType>' +
      '<Content><![CDATA[a <!-- b --> c <?pi?> <!DOCTYPE x> </xml><xml>]]></Content></xml>\n';
    const res = await hook.post(signedQuery(), body);
    expect(res.status).toBe(200);
    expect(res.body).toBe('success');
  });

  it('answers odd but well-formed <xml> documents with success', async () => {
    for (const body of ['<xml/>', '<xml>text</xml>', '<xml><MsgType>event</MsgType><Event>SCAN</Event><Event>SCAN</Event></xml>']) {
      const res = await hook.post(signedQuery(), body);
      expect(res.status).toBe(200);
      expect(res.body).toBe('success');
    }
  });

  it('does not pollute prototypes and survives a burst of hostile requests', async () => {
    const bodies = badBodies.map(([, body]) => body);
    const results = await Promise.all(bodies.concat(bodies).map((body) => hook.post(signedQuery(), body)));
    expect(results.every((r) => r.status === 400)).toBe(true);
    expect(({} as Record<string, unknown>)['MsgType']).toBeUndefined();
    const ticket = await hook.createTicket();
    const ok = await hook.push(scanEvent(ticket, { openid: 'o_after' }));
    expect(ok.status).toBe(200);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
  });

  it('refuses other methods on /wechat', async () => {
    const res = await fetch(`${hook.url}/wechat?${signedQuery()}`, { method: 'PUT', body: '<xml/>' });
    expect(res.status).toBe(405);
  });

  it("a signed push for someone else's token gets no reply content", async () => {
    const signed = signPush('<xml/>', { token: 'someone-else' });
    const res = await hook.post(signed.query, signed.body);
    expect(res.status).toBe(401);
  });
});
