/**
 * Properties no example-based test can cover: the push verification pipeline is total on any input (a
 * refusal or a verified push, never an exception, never a 500 over HTTP), the ticket state machine never logs
 * one ticket in twice whatever events arrive in whatever order, and a confirmation link verifies only
 * exactly as it was signed.
 */
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkXmlShape, verifyPush, type PushQuery } from '../../apps/webhook/push-verification.js';
import type { WebhookSettings } from '../../apps/webhook/index.js';
import {
  newSecret,
  newTicket,
  signConfirmationToken,
  transition,
  verifyConfirmationToken,
  type Ticket,
  type TicketEvent,
} from '../../libs/ticket/index.js';
import { encryptMessage, messageSignature, pushSignature } from '../../libs/wechat/index.js';
import { APP_ID, AES_KEY, PREVIOUS_AES_KEY, TOKEN } from '../support/fixtures.js';
import { startWebhook, type Harness } from '../support/webhook-harness.js';

const NOW = 1_718_000_000_000;
const settings: WebhookSettings = {
  token: TOKEN,
  appId: APP_ID,
  aesKey: AES_KEY,
  aesKeyPrevious: PREVIOUS_AES_KEY,
  requireEncryption: false,
  maxSkewSeconds: 300,
  confirmation: 'tap',
};

/** Pieces of WeChat pushes and of attacks on them, glued at random with arbitrary text in between. */
const FRAGMENTS = [
  '<xml>',
  '</xml>',
  '<?xml version="1.0"?>',
  '<![CDATA[',
  ']]>',
  '<!DOCTYPE xml [',
  '<!ENTITY x "y">',
  ']>',
  '&x;',
  '&amp;',
  '<ToUserName>',
  '</ToUserName>',
  '<FromUserName>',
  '</FromUserName>',
  '<MsgType>event</MsgType>',
  '<Event>SCAN</Event>',
  '<Event>subscribe</Event>',
  '<EventKey>',
  '</EventKey>',
  'qrscene_',
  '<Encrypt>',
  '</Encrypt>',
  '<__proto__>',
  '</__proto__>',
  '<constructor>',
  '<prototype/>',
  '<a/>',
  '<',
  '>',
  '/>',
  '"',
  "'",
  '\u0000',
  '\uFEFF',
  '\uD800',
  '<!--',
  '-->',
  '<?pi x?>',
  '<?xml-stylesheet href="s"?>',
  ' a="<![CDATA["',
  // The package looks handlers up by MsgType: every Object.prototype name must be answered like any unknown type.
  ...Object.getOwnPropertyNames(Object.prototype).map((name) => `<MsgType>${name}</MsgType>`),
];
const xmlish = fc
  .array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 })), {
    maxLength: 40,
  })
  .map((parts) => parts.join(''));
const anyBody = fc.oneof(xmlish, fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }));
const maybe = (arb: fc.Arbitrary<string>) => fc.option(arb, { nil: undefined });
const anyQuery: fc.Arbitrary<PushQuery> = fc.record(
  {
    signature: maybe(fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.string())),
    timestamp: maybe(fc.oneof(fc.constant(String(NOW / 1000)), fc.string())),
    nonce: maybe(fc.string()),
    encryptType: maybe(fc.constantFrom('aes', 'raw', '', 'AES', 'des')),
    msgSignature: maybe(fc.string()),
  },
  { requiredKeys: [] },
) as fc.Arbitrary<PushQuery>;

/**
 * An element that must never reach the parser, inside an `<xml>` root, between runs of comment and CDATA
 * markers in every order: the shapes that hide markup from a reader that strips CDATA with a regex.
 */
const MARKERS = fc.constantFrom('<!--', '-->', '<![CDATA[', ']]>', ' ');
const hiding = fc
  .tuple(
    fc.array(MARKERS, { maxLength: 4 }),
    fc.constantFrom('<__proto__>x</__proto__>', '<constructor/>', '<prototype>1</prototype>', '<!DOCTYPE xml>', '</xml><__proto__/>'),
    fc.array(MARKERS, { maxLength: 4 }),
  )
  .map(([before, hidden, after]) => `<xml>${before.join('')}${hidden}${after.join('')}</xml>`);

// The parser the `wechat` package runs (xml2js, pinned by the root `overrides`), as the oracle of what it sees.
const xml2js = createRequire(import.meta.url)('xml2js') as {
  parseString(xml: string, options: { trim: boolean }, callback: (err: unknown, result: unknown) => void): void;
};
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The keys xml2js produces for `xml`, all levels; null when it refuses the document. */
function parsedKeys(xml: string): string[] | null {
  let parsed: { err: unknown; result: unknown } | undefined;
  try {
    xml2js.parseString(xml, { trim: true }, (err, result) => {
      parsed ??= { err, result };
    });
  } catch (err) {
    // xml2js rethrows some errors after its parser ended instead of calling back: a refusal all the same.
    parsed ??= { err, result: undefined };
  }
  // With a string and the default (synchronous) parser the callback has run by now.
  expect(parsed).toBeDefined();
  if (parsed === undefined || parsed.err) return null;
  const keys: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value !== 'object' || value === null) return;
    for (const key of Object.getOwnPropertyNames(value)) {
      keys.push(key);
      walk((value as Record<string, unknown>)[key]);
    }
  };
  walk(parsed.result);
  return keys;
}

/** A query that passes `signature` and freshness, so the body checks behind them are reached. */
function validQuery(extra: Partial<PushQuery> = {}): PushQuery {
  const timestamp = String(NOW / 1000);
  return { signature: pushSignature(TOKEN, timestamp, '42'), timestamp, nonce: '42', ...extra };
}

/** The result is one of the two shapes, and a verified push carries a message fit for the package. */
function expectWellFormed(result: ReturnType<typeof verifyPush>): void {
  if (result.ok) {
    expect(checkXmlShape(result.xml)).toBeNull();
    expect(['plain', 'aes']).toContain(result.mode);
  } else {
    expect([400, 401]).toContain(result.status);
    expect(typeof result.message).toBe('string');
  }
}

describe('push verification pipeline (apps/webhook/push-verification.ts)', () => {
  it('never throws on any query and any body', () => {
    fc.assert(
      fc.property(anyQuery, anyBody, (query, body) => {
        expectWellFormed(verifyPush(settings, query, body, NOW));
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on random XML-ish bodies behind a valid signature (the shape checks run)', () => {
    fc.assert(
      fc.property(xmlish, (body) => {
        const result = verifyPush(settings, validQuery(), body, NOW);
        expectWellFormed(result);
        // Plaintext passes through untouched only if its shape is acceptable.
        if (result.ok) expect(result.xml).toBe(body);
      }),
      { numRuns: 2_000 },
    );
  });

  it('lets no forbidden element name reach the parser, however comments and CDATA markers are arranged', () => {
    fc.assert(
      fc.property(fc.oneof(hiding, xmlish), (body) => {
        if (checkXmlShape(body) !== null) return;
        const keys = parsedKeys(body);
        if (keys === null) return;
        expect(keys.filter((key) => FORBIDDEN_KEYS.has(key))).toEqual([]);
        expect(keys[0]).toBe('xml');
      }),
      { numRuns: 5_000 },
    );
  });

  it('never throws on arbitrary ciphertext behind a valid msg_signature (decryption runs)', () => {
    const ciphertext = fc.oneof(
      fc.base64String({ maxLength: 400 }),
      fc.string({ maxLength: 100 }).filter((s) => !s.includes(']]>')),
    );
    fc.assert(
      fc.property(ciphertext, (encrypt) => {
        const query = validQuery({ encryptType: 'aes', msgSignature: messageSignature(TOKEN, String(NOW / 1000), '42', encrypt) });
        const result = verifyPush(settings, query, `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`, NOW);
        expectWellFormed(result);
      }),
      { numRuns: 1_000 },
    );
  });

  it('opens correctly encrypted XML-ish messages under either key, or refuses their shape; never throws', () => {
    fc.assert(
      fc.property(
        xmlish,
        fc.constantFrom(AES_KEY, PREVIOUS_AES_KEY),
        fc.constantFrom(APP_ID, 'wx00000000foreign'),
        (message, key, appId) => {
          const encrypt = encryptMessage(key, appId, message);
          const query = validQuery({ encryptType: 'aes', msgSignature: messageSignature(TOKEN, String(NOW / 1000), '42', encrypt) });
          const result = verifyPush(settings, query, `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`, NOW);
          expectWellFormed(result);
          if (appId !== APP_ID) expect(result.ok).toBe(false);
          if (result.ok) {
            // What travels is UTF-8: a lone surrogate in the generated text arrives as U+FFFD.
            expect(result.xml).toBe(Buffer.from(message, 'utf8').toString('utf8'));
            expect(result.aesKey).toBe(key);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  describe('over HTTP', () => {
    let hook: Harness;
    beforeAll(async () => {
      hook = await startWebhook();
    });
    afterAll(async () => {
      await hook.close();
    });

    it('answers a well-formed push of any MsgType, Object.prototype names included, with 200 success', async () => {
      const msgType = fc.oneof(fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)), fc.stringMatching(/^[A-Za-z_]{1,20}$/));
      await fc.assert(
        fc.asyncProperty(msgType, async (type) => {
          fc.pre(type !== 'event');
          const xml = `<xml><ToUserName>gh_x</ToUserName><FromUserName>o_x</FromUserName><CreateTime>1</CreateTime><MsgType>${type}</MsgType><Content>hi</Content></xml>`;
          const res = await hook.push(xml);
          expect(res.status).toBe(200);
          expect(res.body).toBe('success');
        }),
        { numRuns: 60 },
      );
    });

    it('answers any signed XML-ish body with 200, 400 or 401 — never a 500 — and keeps serving', async () => {
      await fc.assert(
        fc.asyncProperty(xmlish, async (body) => {
          const res = await hook.push(body);
          expect([200, 400, 401]).toContain(res.status);
        }),
        { numRuns: 150 },
      );
      expect((await hook.get('/healthz')).status).toBe(200);
      expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    });
  });
});

describe('ticket state machine (libs/ticket)', () => {
  const CREATED = 1_000_000;
  const TTL_SECONDS = 120;
  const RIGHT_SECRET = newSecret();
  const openid = fc.constantFrom('o_alice', 'o_bob', 'o_mallory');
  const at = fc.integer({ min: CREATED - 1_000, max: CREATED + (TTL_SECONDS + 90) * 1000 });
  /** Codes are chosen when the event is applied: the ticket's real code, or a guess. */
  type CodeChoice = 'current' | 'guess' | 'fresh';
  const codeChoice = fc.constantFrom<CodeChoice>('current', 'guess', 'fresh');
  type Step =
    | { type: 'scan'; openid: string; at: number; mode: 'scan' | 'tap'; code: CodeChoice }
    | { type: 'confirm'; openid: string; at: number; code: CodeChoice }
    | { type: 'cancel'; openid: string; at: number }
    | { type: 'consume'; code: CodeChoice; rightSecret: boolean; at: number }
    | { type: 'expire'; at: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ type: fc.constant('scan' as const), openid, at, mode: fc.constantFrom('scan' as const, 'tap' as const), code: codeChoice }),
    fc.record({ type: fc.constant('confirm' as const), openid, at, code: codeChoice }),
    fc.record({ type: fc.constant('cancel' as const), openid, at }),
    fc.record({ type: fc.constant('consume' as const), code: codeChoice, rightSecret: fc.boolean(), at }),
    fc.record({ type: fc.constant('expire' as const), at }),
  );

  let fresh = 0;
  const codeFor = (ticket: Ticket, choice: CodeChoice): string =>
    choice === 'current'
      ? (ticket.code ?? `${ticket.id}.none`)
      : choice === 'guess'
        ? `${ticket.id}.${'A'.repeat(22)}`
        : `${ticket.id}.fresh${fresh++}`;
  const eventOf = (ticket: Ticket, s: Step): TicketEvent => {
    switch (s.type) {
      case 'scan':
        return { type: 'scan', openid: s.openid, at: s.at, mode: s.mode, code: codeFor(ticket, s.code) };
      case 'confirm':
        return { type: 'confirm', openid: s.openid, at: s.at, code: codeFor(ticket, s.code) };
      case 'cancel':
        return s;
      case 'consume':
        return { type: 'consume', code: codeFor(ticket, s.code), secret: s.rightSecret ? RIGHT_SECRET : newSecret(), at: s.at };
      case 'expire':
        return s;
    }
  };

  it('no sequence of events logs one ticket in twice: at most one move into confirmed, at most one consume', () => {
    // The property must not hold vacuously: some generated sequences do log in.
    let runsThatLoggedIn = 0;
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        let ticket = newTicket({
          id: 'AAAAAAAAAAAAAAAAAAAAAA',
          secret: RIGHT_SECRET,
          qr: { url: 'u', wechatTicket: 'w', appId: APP_ID },
          browser: { userAgent: '', ip: '' },
          now: CREATED,
          ttlSeconds: TTL_SECONDS,
        });
        let confirmations = 0;
        let consumptions = 0;
        let firstCode: string | undefined;
        for (const s of steps) {
          const event = eventOf(ticket, s);
          const result = transition(ticket, event);
          if (!result.ok || !result.changed) {
            // A refusal or a no-op leaves the ticket exactly as it was.
            expect(result.ticket).toBe(ticket);
            continue;
          }
          const next = result.ticket;
          expect(next.version).toBe(ticket.version + 1);
          if (ticket.status !== 'confirmed' && next.status === 'confirmed') confirmations += 1;
          if (next.status === 'consumed') {
            consumptions += 1;
            expect(event.type === 'consume' && event.secret).toBe(RIGHT_SECRET);
          }
          // The login code, once issued, is the only one this ticket will ever deliver.
          if (next.code !== undefined) {
            firstCode ??= next.code;
            expect(next.code).toBe(firstCode);
          }
          // Whoever scanned first owns the ticket for good.
          if (ticket.openid !== undefined) expect(next.openid).toBe(ticket.openid);
          ticket = next;
        }
        expect(confirmations).toBeLessThanOrEqual(1);
        expect(consumptions).toBeLessThanOrEqual(1);
        if (consumptions === 1) runsThatLoggedIn += 1;
      }),
      { numRuns: 5_000 },
    );
    expect(runsThatLoggedIn).toBeGreaterThan(0);
  });
});

describe('confirmation links (libs/ticket/confirmation-link.ts)', () => {
  const claims = fc.record({
    ticketId: fc.stringMatching(/^[A-Za-z0-9_-]{22}$/),
    openid: fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
    expiresAt: fc.integer({ min: 1_000_000_000_000, max: 9_999_999_999_999 }),
  });
  const secret = fc.string({ minLength: 16, maxLength: 64 });

  it('a signed link verifies for its scanner and secret until it expires, and for nothing else', () => {
    fc.assert(
      fc.property(
        claims,
        secret,
        fc.string({ minLength: 1, maxLength: 64 }),
        fc.string({ minLength: 16 }),
        (c, key, otherOpenid, otherKey) => {
          const token = signConfirmationToken(c, key);
          expect(verifyConfirmationToken(token, { openid: c.openid, secret: key, now: c.expiresAt - 1 })).toEqual({ ok: true, claims: c });
          expect(verifyConfirmationToken(token, { openid: c.openid, secret: key, now: c.expiresAt })).toEqual({
            ok: false,
            reason: 'expired',
          });
          if (otherOpenid !== c.openid) expect(verifyConfirmationToken(token, { openid: otherOpenid, secret: key, now: 0 }).ok).toBe(false);
          if (otherKey !== key) expect(verifyConfirmationToken(token, { openid: c.openid, secret: otherKey, now: 0 }).ok).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any change to a signed token makes it fail, and any input at all is answered without throwing', () => {
    fc.assert(
      fc.property(claims, secret, fc.nat(), fc.string({ minLength: 1, maxLength: 1 }), (c, key, position, replacement) => {
        const token = signConfirmationToken(c, key);
        const i = position % token.length;
        const altered = token.slice(0, i) + replacement + token.slice(i + 1);
        fc.pre(altered !== token);
        expect(verifyConfirmationToken(altered, { openid: c.openid, secret: key, now: 0 }).ok).toBe(false);
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(fc.anything(), (input) => {
        expect(verifyConfirmationToken(input, { openid: 'o', secret: 'k'.repeat(16), now: 0 }).ok).toBe(false);
      }),
      { numRuns: 1_000 },
    );
  });
});
