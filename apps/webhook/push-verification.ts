/**
 * Everything a WeChat push must pass before the `wechat` package sees it (WECHAT.md §10.4): signature,
 * freshness, XML shape, and in safe mode the message signature, decryption and AppID. Pure functions: they
 * return a verified push or a refusal with its HTTP status, and never throw on hostile input.
 */
import {
  WechatCryptoError,
  decryptMessage,
  messageSignature,
  pushSignature,
  signatureEquals,
  xmlElementText,
} from '../../libs/wechat/index.js';
import type { WebhookSettings } from './webhook-settings.js';

/** How one push ended; the `outcome` label of `qrgate_webhook_requests_total`. */
export const PUSH_OUTCOMES = [
  'ok',
  'refused',
  'unknown_scene',
  'duplicate',
  'replay',
  'replay_mismatch',
  'ignored',
  'timeout',
  'error',
  'bad_signature',
  'stale',
  'too_large',
  'bad_body',
  'bad_ciphertext',
  'encryption_required',
  'forwarded',
  'forward_failed',
] as const;
export type PushOutcome = (typeof PUSH_OUTCOMES)[number];

/** Why a push is refused, with the status and message the caller is shown. */
export interface PushRejection {
  ok: false;
  status: 400 | 401;
  outcome: PushOutcome;
  message: string;
}

/** The signed query parameters of a push or handshake; repeated or missing parameters are undefined. */
export interface PushQuery {
  signature?: string;
  timestamp?: string;
  nonce?: string;
  echostr?: string;
  encryptType?: string;
  msgSignature?: string;
}

/** A push that passed every check: the message XML (decrypted in safe mode) and how to answer it. */
export interface VerifiedPush {
  ok: true;
  /** The message XML, plaintext. */
  xml: string;
  /** `aes` when the reply must be encrypted. */
  mode: 'plain' | 'aes';
  /** The EncodingAESKey that decrypted the push; the reply is encrypted with it (WECHAT.md §7.5). */
  aesKey?: string;
}

/** Largest body accepted, bytes: safe and compatible mode pushes are well below it (WECHAT.md §10.4). */
export const MAX_PUSH_BYTES = 64 * 1024;

/**
 * Deepest element nesting accepted. WeChat's deepest push (`SendPicsInfo > PicList > item > PicMd5Sum` under
 * `<xml>`) is 5 levels; the package's message formatting recurses per level, so 9,000 levels overflowed the
 * stack into a 500.
 */
export const MAX_XML_DEPTH = 16;

const reject = (status: 400 | 401, outcome: PushOutcome, message: string): PushRejection => ({
  ok: false,
  status,
  outcome,
  message,
});

/** Only single string values count: `?signature=a&signature=b` must not reach a comparison as an array. */
export function readPushQuery(query: Readonly<Record<string, string | string[] | undefined>>): PushQuery {
  const one = (name: string): string | undefined => {
    const value = query[name];
    return typeof value === 'string' ? value : undefined;
  };
  const picked = {
    signature: one('signature'),
    timestamp: one('timestamp'),
    nonce: one('nonce'),
    echostr: one('echostr'),
    encryptType: one('encrypt_type'),
    msgSignature: one('msg_signature'),
  };
  return Object.fromEntries(Object.entries(picked).filter(([, v]) => v !== undefined)) as PushQuery;
}

/**
 * `signature` in constant time (WECHAT.md §4.2, §10.4), then the timestamp within `maxSkewSeconds` of `nowMs`
 * (§4.3: WeChat never checks freshness, and a plaintext signature covers no body, so a captured URL is
 * replayable until we refuse old timestamps).
 */
export function verifyRequestSignature(settings: WebhookSettings, query: PushQuery, nowMs: number): PushRejection | null {
  const { signature, timestamp, nonce } = query;
  if (signature === undefined || timestamp === undefined || nonce === undefined) {
    return reject(401, 'bad_signature', 'invalid signature: signature, timestamp and nonce are required');
  }
  if (!signatureEquals(pushSignature(settings.token, timestamp, nonce), signature)) {
    return reject(401, 'bad_signature', 'invalid signature');
  }
  const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
  if (!Number.isFinite(seconds) || Math.abs(nowMs / 1000 - seconds) > settings.maxSkewSeconds) {
    return reject(401, 'stale', `stale timestamp: more than ${settings.maxSkewSeconds} s from the server clock`);
  }
  return null;
}

// An XML declaration, then the root element `xml`.
const XML_ROOT = /^\s*(?:<\?xml[^>]*\?>\s*)?<xml[\s>/]/;
// xml2js 0.4 turns `<__proto__>` into prototype pollution (CVE-2023-0842) and the package's formatMessage
// still copies such keys into a plain object on 0.6 (WECHAT.md §10.4): refuse the names outright.
const FORBIDDEN_ELEMENT = /<\/?\s*(?:__proto__|constructor|prototype)[\s>/]/i;
const DTD = /<!(?:DOCTYPE|ENTITY)/i;
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';

/**
 * The markup of `xml` outside CDATA sections (CDATA content is text to the parser, so a user typing
 * "<constructor>" or "<!--" in a message is harmless), read left to right as the parser reads it — a regex
 * that strips CDATA also strips a CDATA opener written inside a comment, and with it whatever follows.
 * WeChat sends no comments, no processing instructions and nothing after the root element, so those are
 * refused here rather than read around: only a leading XML declaration is allowed.
 */
function markupOutsideCdata(xml: string): { ok: true; markup: string } | { ok: false; problem: string } {
  let markup = '';
  let depth = 0;
  let rootClosed = false;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = lt === -1 ? xml.slice(i) : xml.slice(i, lt);
    if (rootClosed && text.trim() !== '') return { ok: false, problem: 'must not contain anything after the root element' };
    markup += text;
    if (lt === -1) break;
    i = lt;
    if (xml.startsWith(CDATA_OPEN, i)) {
      if (rootClosed) return { ok: false, problem: 'must not contain anything after the root element' };
      const end = xml.indexOf(CDATA_CLOSE, i + CDATA_OPEN.length);
      // Unterminated: the rest is CDATA to the parser, which then refuses the unclosed document.
      if (end === -1) break;
      i = end + CDATA_CLOSE.length;
      continue;
    }
    if (xml.startsWith('<!--', i)) return { ok: false, problem: 'must not contain comments' };
    if (xml.startsWith('<?', i)) {
      const declaration = /^<\?xml\s[^>]*\?>/.exec(xml.slice(i));
      if (markup.trim() !== '' || declaration === null) return { ok: false, problem: 'must not contain processing instructions' };
      markup += declaration[0];
      i += declaration[0].length;
      continue;
    }
    if (xml.startsWith('<!', i)) {
      return {
        ok: false,
        problem: DTD.test(xml.slice(i, i + 9))
          ? 'must not contain a DOCTYPE or ENTITY declaration'
          : 'must not contain markup declarations',
      };
    }
    // A tag: up to its `>`, skipping quoted attribute values. A `<` before it is not XML (the parser refuses
    // it too), and would leave us unsure where CDATA starts.
    let j = i + 1;
    let quote: string | undefined;
    for (; j < xml.length; j++) {
      const c = xml[j];
      if (c === '<') return { ok: false, problem: "is not well-formed: '<' inside a tag" };
      if (quote !== undefined) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (c === '>') {
        break;
      }
    }
    const tag = xml.slice(i, j + 1);
    markup += tag;
    i = j + 1;
    if (rootClosed) return { ok: false, problem: 'must not contain anything after the root element' };
    if (tag.startsWith('</')) depth -= 1;
    else if (!tag.endsWith('/>')) depth += 1;
    if (depth > MAX_XML_DEPTH) return { ok: false, problem: `nests elements more than ${MAX_XML_DEPTH} deep` };
    // An unterminated tag ends the input; the parser refuses it.
    if (depth <= 0 && j < xml.length) rootClosed = true;
  }
  return { ok: true, markup };
}

/**
 * A body the package can parse without throwing inside its xml2js callback (WECHAT.md §10.4: an empty body or a
 * root other than `<xml>` crashes the process): non-empty, rooted at `<xml>` with nothing after it, no DTD, no
 * comment or processing instruction, no prototype keys.
 */
export function checkXmlShape(xml: string, what = 'body'): PushRejection | null {
  if (xml.trim() === '') return reject(400, 'bad_body', `${what} is empty`);
  const scanned = markupOutsideCdata(xml);
  if (!scanned.ok) return reject(400, 'bad_body', `${what} ${scanned.problem}`);
  if (DTD.test(scanned.markup)) return reject(400, 'bad_body', `${what} must not contain a DOCTYPE or ENTITY declaration`);
  if (!XML_ROOT.test(xml)) return reject(400, 'bad_body', `${what} must be an <xml> document`);
  if (FORBIDDEN_ELEMENT.test(scanned.markup)) return reject(400, 'bad_body', `${what} contains a forbidden element name`);
  return null;
}

/**
 * The message inside a signed push whose body passed `checkXmlShape`. Plaintext pushes pass through (unless
 * encryption is required); safe-mode pushes (WECHAT.md §7) are checked against `msg_signature` in constant
 * time, decrypted with the current key or else the previous one, and must name our AppID.
 */
export function openPush(settings: WebhookSettings, query: PushQuery, body: string): VerifiedPush | PushRejection {
  const encrypted = query.encryptType !== undefined && query.encryptType !== 'raw';
  if (!encrypted) {
    if (settings.requireEncryption) {
      return reject(400, 'encryption_required', 'plaintext push refused: this webhook accepts safe-mode (encrypt_type=aes) pushes only');
    }
    return { ok: true, xml: body, mode: 'plain' };
  }
  if (query.encryptType !== 'aes') return reject(400, 'bad_body', 'unsupported encrypt_type');
  const encrypt = xmlElementText(body, 'Encrypt');
  if (encrypt === undefined || encrypt === '') return reject(400, 'bad_body', 'safe-mode push without an Encrypt element');
  // The package compares msg_signature with `!==`; ours is constant-time and runs first (WECHAT.md §7.2, §10.4).
  const expected = messageSignature(settings.token, query.timestamp ?? '', query.nonce ?? '', encrypt);
  if (!signatureEquals(expected, query.msgSignature)) return reject(401, 'bad_signature', 'invalid msg_signature');
  const keys = [settings.aesKey, settings.aesKeyPrevious].filter((k): k is string => k !== undefined);
  if (keys.length === 0) return reject(400, 'bad_ciphertext', 'safe-mode push, but no EncodingAESKey is configured');
  let foreignAppId = false;
  for (const key of keys) {
    let decrypted;
    try {
      decrypted = decryptMessage(key, encrypt);
    } catch (error) {
      if (error instanceof WechatCryptoError) continue;
      throw error;
    }
    // A wrong key can, rarely, unpad cleanly; only a matching AppID proves the key (WECHAT.md §7.3, §10.4).
    if (decrypted.appId !== settings.appId) {
      foreignAppId = true;
      continue;
    }
    const shape = checkXmlShape(decrypted.message, 'decrypted message');
    if (shape) return shape;
    return { ok: true, xml: decrypted.message, mode: 'aes', aesKey: key };
  }
  return foreignAppId
    ? reject(400, 'bad_ciphertext', 'decrypted message is for another AppID')
    : reject(400, 'bad_ciphertext', 'malformed ciphertext');
}

/**
 * The whole check of one POSTed push, in the webhook's order: `signature` and freshness, then the body's
 * shape, then (safe mode) `msg_signature`, decryption and AppID. Total: any query and any body give a
 * verified push or a refusal, never an exception.
 */
export function verifyPush(settings: WebhookSettings, query: PushQuery, body: string, nowMs: number): VerifiedPush | PushRejection {
  return verifyRequestSignature(settings, query, nowMs) ?? checkXmlShape(body) ?? openPush(settings, query, body);
}
