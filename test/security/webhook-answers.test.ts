/**
 * Issue 16 item 9: the webhook answers every signed push in time, never a 500. The `wechat` package looks its
 * handlers up on a plain object, so a `MsgType` naming an `Object.prototype` member (`constructor`,
 * `toString`, …) used to be called as a handler and never answered, `hasOwnProperty` threw a 500, and a
 * 9,000-deep nesting overflowed the parser's stack into a 500. Each is answered here (`success` or 400)
 * before the reply deadline, and the ticket the push names is left exactly as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OA_ID } from '../support/fixtures.js';
import { outcomeCount, startWebhook, type Harness } from '../support/webhook-harness.js';

/** The harness's reply deadline: short, so a push the webhook never answers shows within the test. */
const DEADLINE_MS = 400;
/** How long the test waits for an answer: several deadlines, never a claim about the machine's speed. */
const PATIENCE_MS = 10 * DEADLINE_MS;

let hook: Harness;
beforeAll(async () => {
  hook = await startWebhook({}, { replyDeadlineMs: DEADLINE_MS });
});
afterAll(async () => {
  await hook.close();
});

/** A scan-shaped push for `ticketId` whose MsgType is `msgType`. */
function pushOf(msgType: string, ticketId: string, ticket: string): string {
  return [
    '<xml>',
    `<ToUserName><![CDATA[${OA_ID}]]></ToUserName>`,
    '<FromUserName><![CDATA[oProtoNames0123456789abcdef]]></FromUserName>',
    `<CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime>`,
    `<MsgType><![CDATA[${msgType}]]></MsgType>`,
    '<Event><![CDATA[SCAN]]></Event>',
    `<EventKey><![CDATA[${ticketId}]]></EventKey>`,
    `<Ticket><![CDATA[${ticket}]]></Ticket>`,
    '</xml>',
  ].join('');
}

/** Sign and POST `xml`; rejects when no answer comes within {@link PATIENCE_MS}. */
async function pushInTime(xml: string) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PATIENCE_MS} ms`)), PATIENCE_MS);
  });
  try {
    return await Promise.race([hook.push(xml), late]);
  } finally {
    clearTimeout(timer);
  }
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

describe('the webhook answers every signed push in time (issue 16 item 9)', () => {
  it.each(PROTOTYPE_NAMES)('MsgType %s is answered success at once and changes nothing', async (name) => {
    const ticket = await hook.createTicket();
    const before = await hook.engine.tickets.get(ticket.id);
    const ignored = await outcomeCount(hook.metrics, 'ignored');
    const res = await pushInTime(pushOf(name, ticket.id, ticket.qr.wechatTicket));
    expect(res.status).toBe(200);
    expect(res.body).toBe('success');
    expect(await outcomeCount(hook.metrics, 'ignored')).toBe(ignored + 1);
    expect(await hook.engine.tickets.get(ticket.id)).toEqual(before);
  });

  it('a 9,000-deep nesting is refused 400 and changes nothing', async () => {
    const ticket = await hook.createTicket();
    const before = await hook.engine.tickets.get(ticket.id);
    const deep = `${'<a>'.repeat(9_000)}x${'</a>'.repeat(9_000)}`;
    const xml = pushOf('event', ticket.id, ticket.qr.wechatTicket).replace('</xml>', `${deep}</xml>`);
    const res = await pushInTime(xml);
    expect(res.status).toBe(400);
    expect(res.body).toBe('body nests elements more than 16 deep');
    expect(await hook.engine.tickets.get(ticket.id)).toEqual(before);
  });

  it('a nesting as deep as WeChat sends (ScanCodeInfo, SendPicsInfo) still reaches the package', async () => {
    const xml = pushOf('event', 'not-a-ticket', 'gQ-none').replace(
      '</xml>',
      '<SendPicsInfo><Count>1</Count><PicList><item><PicMd5Sum><![CDATA[abc]]></PicMd5Sum></item></PicList></SendPicsInfo></xml>',
    );
    const res = await pushInTime(xml);
    expect(res.status).toBe(200);
  });

  it('keeps serving after all of them', async () => {
    expect((await hook.get('/healthz')).status).toBe(200);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
