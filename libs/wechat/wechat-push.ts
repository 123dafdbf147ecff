/**
 * Building and reading WeChat push messages: what WeChat's servers send to a webhook and what they expect
 * back. The simulator uses it to push, the tests to forge, the webhook's reply path to encrypt.
 */
import { randomBytes } from 'node:crypto';
import { decryptMessage, encryptMessage } from './wechat-aes.js';
import { messageSignature, pushSignature } from './wechat-signature.js';

/** A QR scan event as WeChat pushes it (WECHAT.md §5). */
export interface ScanEventInput {
  /** The OA's original id (`gh_…`). */
  toUserName: string;
  /** The scanner's openid. */
  fromUserName: string;
  /** Unix seconds. */
  createTime: number;
  /** The QR events, and the other events an account receives (menu clicks and links, location reports). */
  event: 'subscribe' | 'SCAN' | 'unsubscribe' | 'CLICK' | 'VIEW' | 'LOCATION';
  /** `qrscene_<scene>` for subscribe, the bare scene for SCAN. */
  eventKey?: string;
  /** WeChat's QR ticket. */
  ticket?: string;
}

const cdata = (value: string): string => `<![CDATA[${value.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;

export function buildEventXml(e: ScanEventInput): string {
  return [
    '<xml>',
    `<ToUserName>${cdata(e.toUserName)}</ToUserName>`,
    `<FromUserName>${cdata(e.fromUserName)}</FromUserName>`,
    `<CreateTime>${e.createTime}</CreateTime>`,
    `<MsgType>${cdata('event')}</MsgType>`,
    `<Event>${cdata(e.event)}</Event>`,
    e.eventKey !== undefined ? `<EventKey>${cdata(e.eventKey)}</EventKey>` : '',
    e.ticket !== undefined ? `<Ticket>${cdata(e.ticket)}</Ticket>` : '',
    '</xml>',
  ].join('');
}

/** A text reply (WECHAT.md §6), CDATA-safe. */
export function buildTextReplyXml(input: { toUserName: string; fromUserName: string; content: string; createTime: number }): string {
  return [
    '<xml>',
    `<ToUserName>${cdata(input.toUserName)}</ToUserName>`,
    `<FromUserName>${cdata(input.fromUserName)}</FromUserName>`,
    `<CreateTime>${input.createTime}</CreateTime>`,
    `<MsgType>${cdata('text')}</MsgType>`,
    `<Content>${cdata(input.content)}</Content>`,
    '</xml>',
  ].join('');
}

export interface SignedPush {
  /** Query string (without `?`) to append to the webhook URL. */
  query: string;
  /** Request body. */
  body: string;
}

export interface PushSigningOptions {
  token: string;
  /** Safe mode: encrypt with this key for this AppID. */
  aes?: { encodingAesKey: string; appId: string };
  /** Unix seconds; default now. */
  timestamp?: number;
  nonce?: string;
  openid?: string;
}

/** Sign (and in safe mode encrypt) a push exactly as WeChat does. */
export function signPush(xml: string, options: PushSigningOptions): SignedPush {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? String(randomBytes(4).readUInt32BE(0));
  const params = new URLSearchParams({ signature: pushSignature(options.token, timestamp, nonce), timestamp, nonce });
  if (options.openid !== undefined) params.set('openid', options.openid);
  if (options.aes === undefined) return { query: params.toString(), body: xml };
  const encrypt = encryptMessage(options.aes.encodingAesKey, options.aes.appId, xml);
  const toUser = /<ToUserName><!\[CDATA\[(.*?)\]\]><\/ToUserName>/.exec(xml)?.[1] ?? '';
  params.set('encrypt_type', 'aes');
  params.set('msg_signature', messageSignature(options.token, timestamp, nonce, encrypt));
  return {
    query: params.toString(),
    body: `<xml><ToUserName>${cdata(toUser)}</ToUserName><Encrypt>${cdata(encrypt)}</Encrypt></xml>`,
  };
}

/** Wrap a reply for safe mode (WECHAT.md §7.4). */
export function encryptReply(
  xml: string,
  options: { token: string; encodingAesKey: string; appId: string; timestamp?: number; nonce?: string },
): string {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? String(randomBytes(4).readUInt32BE(0));
  const encrypt = encryptMessage(options.encodingAesKey, options.appId, xml);
  return [
    '<xml>',
    `<Encrypt>${cdata(encrypt)}</Encrypt>`,
    `<MsgSignature>${cdata(messageSignature(options.token, timestamp, nonce, encrypt))}</MsgSignature>`,
    `<TimeStamp>${timestamp}</TimeStamp>`,
    `<Nonce>${cdata(nonce)}</Nonce>`,
    '</xml>',
  ].join('');
}

/** Text of one simple element (`<Name><![CDATA[…]]></Name>` or `<Name>…</Name>`), for reading replies. */
export function xmlElementText(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([^<]*))</${name}>`).exec(xml);
  if (!match) return undefined;
  return match[1] !== undefined ? match[1] : match[2];
}

/**
 * What the scanner would see for a webhook's answer: `null` for `success` or an empty body, otherwise the
 * text content, decrypting a safe-mode reply (checking its signature) when keys are given.
 */
export function readReply(
  body: string,
  options: { token?: string; encodingAesKey?: string } = {},
): { content: string | null; xml: string | null } {
  const trimmed = body.trim();
  if (trimmed === '' || trimmed === 'success') return { content: null, xml: null };
  let xml = trimmed;
  const encrypt = xmlElementText(trimmed, 'Encrypt');
  if (encrypt !== undefined) {
    if (options.encodingAesKey === undefined || options.token === undefined) throw new Error('encrypted reply needs token and key');
    const signature = xmlElementText(trimmed, 'MsgSignature');
    const timestamp = xmlElementText(trimmed, 'TimeStamp') ?? '';
    const nonce = xmlElementText(trimmed, 'Nonce') ?? '';
    if (signature !== messageSignature(options.token, timestamp, nonce, encrypt)) throw new Error('reply MsgSignature does not match');
    xml = decryptMessage(options.encodingAesKey, encrypt).message;
  }
  const content = xmlElementText(xml, 'Content') ?? null;
  return { content: content === null ? null : content.replace(/]]]]><!\[CDATA\[>/g, ']]>'), xml };
}
