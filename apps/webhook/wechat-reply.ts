/**
 * Writing WeChat's answer to a push (WECHAT.md §6): `success` for "no reply", otherwise a text reply XML,
 * encrypted with the key that decrypted the push in safe mode. Built here rather than by the package's
 * `res.reply`: seconds, not ms, in CreateTime/TimeStamp, and `]]>`-safe CDATA (WECHAT.md §10.4).
 */
import type { Context } from 'koa';
import { buildTextReplyXml, encryptReply } from '../../libs/wechat/index.js';
import type { VerifiedPush } from './push-verification.js';
import type { PushedMessage } from './scan-event.js';
import type { WebhookSettings } from './webhook-settings.js';

/** `success`: WeChat's "no reply"; it also stops WeChat's retries. */
export function answerSuccess(ctx: Context): void {
  ctx.status = 200;
  ctx.type = 'text/plain';
  ctx.body = 'success';
}

/** 503 with an empty body: not an answer WeChat accepts, so it re-sends the push (WECHAT.md §6). */
export function answerRetryLater(ctx: Context): void {
  ctx.status = 503;
  ctx.body = '';
}

/** Reply `text` to the user who sent `message` (or `success` for null). Throws if the reply cannot be built. */
export function answerText(
  ctx: Context,
  reply: { settings: WebhookSettings; opened: VerifiedPush; message: PushedMessage; text: string | null; nowMs: number },
): void {
  if (reply.text === null) {
    answerSuccess(ctx);
    return;
  }
  const createTime = Math.floor(reply.nowMs / 1000);
  const xml = buildTextReplyXml({
    toUserName: stringField(reply.message, 'FromUserName'),
    fromUserName: stringField(reply.message, 'ToUserName'),
    content: reply.text,
    createTime,
  });
  const { settings, opened } = reply;
  const body =
    opened.mode === 'aes' && opened.aesKey !== undefined
      ? encryptReply(xml, { token: settings.token, encodingAesKey: opened.aesKey, appId: settings.appId, timestamp: createTime })
      : xml;
  ctx.status = 200;
  ctx.type = 'application/xml; charset=utf-8';
  ctx.body = body;
}

const stringField = (message: PushedMessage, name: string): string => {
  const value = message[name];
  return typeof value === 'string' ? value : '';
};
