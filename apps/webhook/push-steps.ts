/**
 * The steps of `POST /wechat` before the scan is answered, each a Koa middleware over the typed push state
 * (`push-state.ts`); `webhook.ts` lists them in order. Each step either refuses (an HTTP error with its
 * `outcome`), answers (`success` for a retry or a type we ignore), or fills in its part of the state and goes on.
 */
import type { Next } from 'koa';
import type { Engine } from '../../libs/engine/engine.js';
import { httpError, isHttpError, readBytes } from '../../libs/http/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { TIMED_OUT, withTimeout } from '../../libs/runtime/with-timeout.js';
import { ticketLogId } from '../../libs/ticket/index.js';
import { createWechatMiddleware, isWechatParseError, runWechat } from './koa-wechat.js';
import {
  MAX_PUSH_BYTES,
  readPushQuery,
  verifyPush,
  verifyRequestSignature,
  type PushOutcome,
  type PushRejection,
} from './push-verification.js';
import { stepOutput, type PushContext } from './push-state.js';
import { checkReplay } from './replay-guard.js';
import { answerSuccess } from './wechat-reply.js';
import type { WebhookSettings } from './webhook-settings.js';

export type PushStep = (ctx: PushContext, next: Next) => Promise<void>;

/** A refusal of the pure checks, as the HTTP error the error path answers. */
export function refusal(rejection: PushRejection, extra: { headers?: Record<string, string> } = {}): Error {
  return httpError(rejection.status, rejection.message, { outcome: rejection.outcome, ...extra });
}

/**
 * First step of both `/wechat` routes: the request's push record, its outcome when a later step throws, and
 * one `webhookRequests` count whatever happens.
 */
export function recordPush(metrics: Metrics): PushStep {
  return async (ctx, next) => {
    ctx.state.push = {};
    try {
      await next();
    } catch (error) {
      const status = isHttpError(error) ? error.status : 500;
      const outcome = (error as { outcome?: PushOutcome }).outcome;
      ctx.state.push.outcome = outcome ?? (status >= 500 ? 'error' : 'bad_body');
      throw error;
    } finally {
      metrics.webhookRequests.inc({ outcome: ctx.state.push.outcome ?? (ctx.status >= 500 ? 'error' : 'ignored') });
    }
  };
}

/** The log line of a `/wechat` request: never the query string (replayable, WECHAT.md §4.3) nor any body. */
export function describePush(ctx: PushContext): { message: string; fields: Record<string, unknown> } | undefined {
  const push = ctx.state.push;
  if (push === undefined) return undefined;
  return {
    message: 'wechat push',
    fields: {
      outcome: push.outcome ?? (ctx.status >= 500 ? 'error' : 'ignored'),
      ...(push.mode ? { mode: push.mode } : {}),
      ...(push.ticketId !== undefined ? { ticket: ticketLogId(push.ticketId) } : {}),
    },
  };
}

/**
 * The signed query, then the raw body, at most 64 KiB (WECHAT.md §10.4: the package itself reads without a
 * limit). `signature` and the timestamp are checked before a byte of the body is read: a client without a
 * fresh signed query string cannot hold the connection by trickling a body. The bytes are kept as they came,
 * for a push forwarded to the account's own backend (`push-forward.ts`).
 */
export function readPush(settings: WebhookSettings, now: () => number): PushStep {
  return async (ctx, next) => {
    ctx.state.receivedAt = performance.now();
    ctx.state.query = readPushQuery(ctx.query);
    const unsigned = verifyRequestSignature(settings, ctx.state.query, now());
    if (unsigned !== null) throw refusal(unsigned, { headers: { Connection: 'close' } });
    try {
      const raw = await readBytes(ctx, { limit: MAX_PUSH_BYTES, refusal: { outcome: 'bad_body' } });
      ctx.state.rawBody = raw;
      // As `readText` decodes: UTF-8, a byte-order mark dropped, a broken sequence replaced.
      ctx.state.body = new TextDecoder('utf-8').decode(raw);
    } catch (error) {
      if (isHttpError(error) && error.status === 413) {
        throw httpError(413, `body exceeds ${MAX_PUSH_BYTES} bytes`, { outcome: 'too_large', headers: { Connection: 'close' } });
      }
      throw error;
    }
    await next();
  };
}

/** Signature, freshness, XML shape, decryption and AppID (`push-verification.ts`, pure). */
export function verifySignedPush(settings: WebhookSettings, now: () => number): PushStep {
  return async (ctx, next) => {
    const opened = verifyPush(settings, stepOutput(ctx, 'query'), stepOutput(ctx, 'body'), now());
    if (!opened.ok) throw refusal(opened);
    ctx.state.opened = opened;
    ctx.state.push.mode = opened.mode;
    await next();
  };
}

/**
 * A plaintext signature covers no body (WECHAT.md §4.3): a query string is accepted once within its freshness
 * window. WeChat re-sending it with the same body is handled again (the earlier delivery may have died
 * half-way; the scan's delivery marks answer a finished one with its reply without redoing it); the same query
 * string with another body is a forgery built from a captured URL, and is refused (§10.4).
 *
 * The mark's round trip runs alongside the next steps (the package's parse, the scan's claim and read), not
 * before them: `ctx.state.replayChecked` settles with the verdict, every step that acts on the push (forwards
 * it, writes a ticket, forgets a counter) awaits it first, and whatever a later step answered or threw, a
 * forgery is refused here at the end, before any answer goes out.
 */
export function guardReplay(engine: Engine, settings: WebhookSettings): PushStep {
  return async (ctx, next) => {
    const query = stepOutput(ctx, 'query');
    const checked = checkReplay(engine.kv, query, stepOutput(ctx, 'body'), settings.maxSkewSeconds * 2 * 1000).then((verdict) => {
      if (verdict === 'mismatch') throw httpError(401, 'replayed query string with a different body', { outcome: 'replay_mismatch' });
      ctx.state.resent = verdict === 'retry';
    });
    // Awaited below on every path; this only keeps an early failure from counting as unhandled meanwhile.
    checked.catch(() => undefined);
    ctx.state.replayChecked = checked;
    try {
      await next();
    } catch (error) {
      // A refusal of the query string outranks whatever a later step made of the forged body.
      await checked;
      throw error;
    }
    await checked;
  };
}

/**
 * The `wechat` package parses and dispatches the plaintext message. It gets a query without
 * encrypt_type/msg_signature: decryption happened in `verifySignedPush` and encryption happens in the reply.
 * Text messages and other types are answered `success` so WeChat does not retry (WECHAT.md §10.4).
 */
export function parseWithPackage(settings: WebhookSettings, options: { deadlineMs: number; logger: Logger }): PushStep {
  const middleware = createWechatMiddleware({ token: settings.token, appId: settings.appId });
  return async (ctx, next) => {
    const query = stepOutput(ctx, 'query');
    const signed = { signature: query.signature ?? '', timestamp: query.timestamp ?? '', nonce: query.nonce ?? '' };
    let outcome;
    try {
      // The deadline is around the whole package call: whatever the package does with a message it was never
      // written for, WeChat gets an answer before its 5 s (WECHAT.md §6).
      outcome = await withTimeout(
        runWechat(ctx, middleware, { query: signed, rawBody: Buffer.from(stepOutput(ctx, 'opened').xml, 'utf8') }),
        options.deadlineMs,
      );
    } catch (error) {
      if (isWechatParseError(error)) throw httpError(400, 'malformed XML', { outcome: 'bad_body' });
      // Anything else the package throws on a signed, well-shaped body is still that body's fault (its
      // checks passed, so the package met a message it cannot handle): refused, never a 500.
      options.logger.warn({ requestId: ctx.state.requestId, err: error }, 'the wechat package could not process a push');
      throw httpError(400, 'message could not be processed', { outcome: 'bad_body' });
    }
    if (outcome !== TIMED_OUT && outcome.kind === 'unhandled') await stepOutput(ctx, 'replayChecked');
    if (outcome === TIMED_OUT) {
      // The package never handed the message back; Koa owns the response again and answers for it.
      ctx.respond = true;
      ctx.state.push.outcome = 'timeout';
      options.logger.warn(
        { requestId: ctx.state.requestId },
        `the wechat package did not finish within ${options.deadlineMs} ms; answered success`,
      );
      return answerSuccess(ctx);
    }
    if (outcome.kind === 'unhandled') {
      ctx.state.push.outcome = ctx.state.resent === true ? 'replay' : 'ignored';
      return answerSuccess(ctx);
    }
    ctx.state.message = outcome.message;
    await next();
  };
}
