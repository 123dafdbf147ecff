/**
 * The WeChat webhook: a Koa app that receives WeChat's signed pushes, hardens them (WECHAT.md §10.4), hands the
 * message to the `wechat` package, and answers each QR scan within WeChat's 5 s (§6).
 *
 * POST /wechat pipeline, in order: raw body ≤ 64 KiB → `signature` (constant time) → timestamp freshness →
 * `<xml>` root, no DTD, no prototype element names → safe mode: `msg_signature`, decryption (current key, then
 * previous), AppID → plaintext refused if encryption is required → a used query string with another body
 * refused (`replay-guard.ts`; with the same body it is WeChat re-sending, handled again) → the package parses
 * and dispatches → `scan-event.ts` under a deadline (its delivery marks give a re-send of a finished push the
 * same reply) → reply (encrypted with the key that decrypted the push).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Router from '@koa/router';
import Koa, { type Context, type Next } from 'koa';
import getRawBody from 'raw-body';
import type { Engine } from '../../libs/engine/engine.js';
import { createLoginService, type DeliveryMarkOptions } from '../../libs/login/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { ticketLogId } from '../../libs/ticket/index.js';
import { buildTextReplyXml, encryptReply } from '../../libs/wechat/index.js';
import { createWechatMiddleware, isWechatParseError, runWechat, type WechatMessageHandler, type WechatRequest } from './koa-wechat.js';
import {
  MAX_PUSH_BYTES,
  readPushQuery,
  verifyPush,
  verifyRequestSignature,
  type PushOutcome,
  type PushRejection,
  type VerifiedPush,
} from './push-verification.js';
import { checkReplay } from './replay-guard.js';
import { handleScanEvent, type PushedMessage, type ScanEventResult } from './scan-event.js';
import type { WebhookSettings } from './webhook-settings.js';

/** What the webhook is built from; it opens no connection itself. */
export interface WebhookDeps {
  /** Tickets, bus and dedupe marks (shared by every webhook and gateway instance). */
  engine: Engine;
  config: WebhookSettings;
  logger: Logger;
  metrics: Metrics;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Past this a scan is answered `success` and finishes in the background. Default {@link REPLY_DEADLINE_MS}. */
  replyDeadlineMs?: number;
  /** Lease and retention of the scan delivery marks. Default: `libs/login`'s. */
  deliveryMarks?: DeliveryMarkOptions;
}

/** Past this the scan is answered `success` and finishes in the background: WeChat gives up at 5 s (§6). */
export const REPLY_DEADLINE_MS = 4_500;
/** How long `/readyz` waits for the engine. */
const READY_TIMEOUT_MS = 2_000;
const WECHAT_PATH = '/wechat';

/** What one `/wechat` request did, for its log line and its `webhookRequests` count. */
interface PushRecord {
  requestId: string;
  outcome?: PushOutcome;
  ticketId?: string;
  mode?: VerifiedPush['mode'];
}

/** What the event handler needs about the HTTP request it answers (the package only passes `req`). */
interface PendingPush {
  record: PushRecord;
  opened: VerifiedPush;
  /** This query string came before with the same body: WeChat re-sending it. */
  resent: boolean;
}

/**
 * Build the webhook app: `GET|POST /wechat`, `/healthz`, `/readyz`, `/metrics`. Only `main.ts` listens; tests
 * and the standalone composition use `app.callback()`.
 */
export function createWebhook(deps_: WebhookDeps): Koa {
  const { engine, config: settings, logger, metrics } = deps_;
  const now = deps_.now ?? Date.now;
  const replyDeadlineMs = deps_.replyDeadlineMs ?? REPLY_DEADLINE_MS;
  const pending = new WeakMap<WechatRequest, PendingPush>();
  const login = createLoginService({ engine, metrics, logger, now });

  const app = new Koa();
  // Every error is answered and logged by `handleErrors`; Koa's own printer would only duplicate it.
  app.silent = true;
  app.on('error', (err: unknown) => logger.error({ err }, 'webhook response failed'));

  const reply = (res: ServerResponse, message: PushedMessage, push: PendingPush, text: string | null): void => {
    if (res.headersSent) return;
    if (text === null) {
      // `success` is WeChat's "no reply" (WECHAT.md §6); it also stops WeChat's retries.
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('success');
      return;
    }
    const createTime = Math.floor(now() / 1000);
    // Built here rather than by the package's `res.reply`: seconds, not ms, in CreateTime/TimeStamp, and
    // `]]>`-safe CDATA (WECHAT.md §10.4).
    const xml = buildTextReplyXml({
      toUserName: stringField(message, 'FromUserName'),
      fromUserName: stringField(message, 'ToUserName'),
      content: text,
      createTime,
    });
    const body =
      push.opened.mode === 'aes' && push.opened.aesKey !== undefined
        ? encryptReply(xml, { token: settings.token, encodingAesKey: push.opened.aesKey, appId: settings.appId, timestamp: createTime })
        : xml;
    res.writeHead(200, { 'Content-Type': 'application/xml; charset=utf-8' });
    res.end(body);
  };

  const onEvent: WechatMessageHandler = (message, req, res) => {
    const push = pending.get(req);
    if (push === undefined) {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('success');
      return;
    }
    // The package does not await handlers: this promise must settle into an answer and never reject.
    void answerScan(message, res, push);
  };

  const answerScan = async (message: PushedMessage, res: ServerResponse, push: PendingPush): Promise<void> => {
    const { record } = push;
    const links = settings.confirmationLinks;
    const deps = {
      login,
      kv: engine.kv,
      logger,
      confirmation: settings.confirmation,
      now,
      ...(links ? { confirmationLinks: links } : {}),
      ...(deps_.deliveryMarks ? { marks: deps_.deliveryMarks } : {}),
    };
    const work = handleScanEvent(deps, message).then(
      (result): Settled => ({ ok: true, result }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
    const settled = await withDeadline(work, replyDeadlineMs);
    try {
      if (settled === 'timeout') {
        // The work goes on and will most likely finish: `success` keeps WeChat from running it twice.
        record.outcome = 'timeout';
        logger.warn({ requestId: record.requestId }, `scan not handled within ${replyDeadlineMs} ms; answered success`);
        reply(res, message, push, null);
        void work.then((late) => afterDeadline(late, push));
        return;
      }
      if (!settled.ok) {
        // `success` would tell WeChat not to re-send (WECHAT.md §6), so the scan would be lost. The delivery's
        // lease is released (or lapses), so the re-sent push runs again; an error status with no body is what
        // makes WeChat re-send it.
        record.outcome = 'error';
        logger.error({ requestId: record.requestId, err: settled.error }, 'scan handling failed; answered 503 so that WeChat re-sends the push');
        answerRetryLater(res);
        return;
      }
      // A re-sent query string answered from the delivery marks is counted as the replay it is.
      record.outcome = push.resent && settled.result.kind === 'duplicate' ? 'replay' : settled.result.kind;
      if ('ticketId' in settled.result && settled.result.ticketId !== undefined) record.ticketId = settled.result.ticketId;
      reply(res, message, push, settled.result.reply);
    } catch (error) {
      record.outcome = 'error';
      logger.error({ requestId: record.requestId, err: error }, 'could not write the reply');
      if (!res.headersSent) {
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('success');
      }
    }
  };

  const afterDeadline = async (late: Settled, push: PendingPush): Promise<void> => {
    if (late.ok) {
      logger.info({ requestId: push.record.requestId, outcome: late.result.kind }, 'scan finished after the deadline');
      return;
    }
    logger.error({ requestId: push.record.requestId, err: late.error }, 'scan failed after the deadline');
  };

  const wechatMiddleware = createWechatMiddleware({ token: settings.token, appId: settings.appId, onEvent });

  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'ok';
  });

  router.get('/readyz', async (ctx) => {
    const ready = await withDeadline(engine.ping().then(() => true, () => false), READY_TIMEOUT_MS);
    ctx.type = 'text/plain';
    ctx.status = ready === true ? 200 : 503;
    ctx.body = ready === true ? 'ready' : 'engine unavailable';
  });

  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  // Handshake (WECHAT.md §4.2): plaintext in every mode for Official Accounts (§7.1); `echostr` is not signed,
  // so it goes back as text/plain with nosniff, never as HTML from our origin (§10.4).
  router.get(WECHAT_PATH, (ctx) => {
    const query = readPushQuery(ctx.query);
    refuseIf(ctx, verifyRequestSignature(settings, query, now()));
    if (query.echostr === undefined || query.echostr === '' || query.echostr.length > 256) {
      ctx.throw(400, 'echostr is required (at most 256 characters)', { outcome: 'bad_body' });
    }
    record(ctx).outcome = 'ok';
    ctx.type = 'text/plain';
    ctx.body = query.echostr;
  });

  router.post(WECHAT_PATH, async (ctx) => {
    const query = readPushQuery(ctx.query);
    const body = await readBody(ctx);
    const opened = verifyPush(settings, query, body, now());
    if (!opened.ok) refuseIf(ctx, opened);
    else await dispatch(ctx, query, body, opened);
  });

  const dispatch = async (ctx: Context, query: ReturnType<typeof readPushQuery>, body: string, opened: VerifiedPush): Promise<void> => {
    // A plaintext signature covers no body (WECHAT.md §4.3): the same query string with another body is a
    // forgery built from a captured URL, and is refused (§10.4). With the same body it is WeChat re-sending,
    // handled again: the earlier delivery may have died half-way, and the scan's delivery marks answer a
    // finished one with its reply without redoing it.
    const verdict = await checkReplay(engine.kv, query, body, settings.maxSkewSeconds * 2 * 1000);
    if (verdict === 'mismatch') {
      ctx.throw(401, 'replayed query string with a different body', { outcome: 'replay_mismatch' });
    }
    const push: PendingPush = { record: record(ctx), opened, resent: verdict === 'retry' };
    push.record.mode = opened.mode;
    const req = ctx.req as WechatRequest;
    pending.set(req, push);
    let outcome;
    try {
      // The package gets the plaintext message and a query without encrypt_type/msg_signature: it only parses
      // and dispatches; decryption happened in openPush and encryption happens in `reply`.
      const signed = { signature: query.signature ?? '', timestamp: query.timestamp ?? '', nonce: query.nonce ?? '' };
      outcome = await runWechat(ctx, wechatMiddleware, { query: signed, rawBody: Buffer.from(opened.xml, 'utf8') });
    } catch (error) {
      if (isWechatParseError(error)) ctx.throw(400, 'malformed XML', { outcome: 'bad_body' });
      throw error;
    } finally {
      pending.delete(req);
    }
    if (outcome === 'unhandled') {
      // Text messages and other message types: answer `success` so WeChat does not retry (WECHAT.md §10.4).
      push.record.outcome = push.resent ? 'replay' : 'ignored';
      answerSuccess(ctx);
    }
  };

  app.use(logPushes(logger, metrics));
  app.use(handleErrors(logger));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

type Settled = { ok: true; result: ScanEventResult } | { ok: false; error: unknown };

/** The raw body, at most 64 KiB (WECHAT.md §10.4: the package itself reads without a limit). */
async function readBody(ctx: Context): Promise<string> {
  try {
    const buffer = await getRawBody(ctx.req, { limit: MAX_PUSH_BYTES, length: ctx.get('content-length') || null });
    return buffer.toString('utf8');
  } catch (error) {
    if (hasStatus(error) && error.status === 413) {
      ctx.set('Connection', 'close');
      ctx.throw(413, `body exceeds ${MAX_PUSH_BYTES} bytes`, { outcome: 'too_large' });
    }
    ctx.throw(400, 'could not read the request body', { outcome: 'bad_body' });
  }
}

function refuseIf(ctx: Context, rejection: PushRejection | null): void {
  if (rejection !== null) ctx.throw(rejection.status, rejection.message, { outcome: rejection.outcome });
}

/** 503 with an empty body: not an answer WeChat accepts, so it re-sends the push (WECHAT.md §6). */
function answerRetryLater(res: ServerResponse): void {
  if (res.headersSent) return;
  res.writeHead(503, { 'Content-Length': '0' });
  res.end();
}

function answerSuccess(ctx: Context): void {
  ctx.type = 'text/plain';
  ctx.body = 'success';
}

function record(ctx: Context): PushRecord {
  const existing = ctx.state['push'] as PushRecord | undefined;
  if (existing) return existing;
  const created: PushRecord = { requestId: randomUUID() };
  ctx.state['push'] = created;
  return created;
}

const stringField = (message: PushedMessage, name: string): string => {
  const value = message[name];
  return typeof value === 'string' ? value : '';
};

const hasStatus = (error: unknown): error is { status: number } =>
  typeof error === 'object' && error !== null && typeof (error as { status?: unknown }).status === 'number';

/** Resolve with the promise's value, or `'timeout'` after `ms`; the timer never outlives the race. */
async function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One log line and one `webhookRequests` count per `/wechat` request: request id, status, outcome, hashed
 * ticket id. Never the query string (a signed query is replayable, WECHAT.md §4.3) nor any body.
 */
function logPushes(logger: Logger, metrics: Metrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (ctx.path !== WECHAT_PATH) return next();
    const started = performance.now();
    const push = record(ctx);
    ctx.set('X-Request-Id', push.requestId);
    try {
      await next();
    } finally {
      const outcome: PushOutcome = push.outcome ?? (ctx.status >= 500 ? 'error' : 'ignored');
      metrics.webhookRequests.inc({ outcome });
      logger.info(
        {
          requestId: push.requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          outcome,
          ...(push.mode ? { mode: push.mode } : {}),
          ...(push.ticketId !== undefined ? { ticket: ticketLogId(push.ticketId) } : {}),
          ms: Math.round(performance.now() - started),
        },
        'wechat push',
      );
    }
  };
}

/**
 * The one error path: a 4xx shows its specific message, anything else a generic one, always as text/plain.
 * Nothing a client sends can take the process down.
 */
function handleErrors(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (error) {
      const status = hasStatus(error) && error.status >= 400 && error.status < 600 ? error.status : 500;
      const expose = status < 500 && error instanceof Error && (error as { expose?: boolean }).expose !== false;
      const push = ctx.state['push'] as PushRecord | undefined;
      const outcome = (error as { outcome?: PushOutcome }).outcome;
      if (push !== undefined) push.outcome = outcome ?? (status >= 500 ? 'error' : 'bad_body');
      if (status >= 500) logger.error({ err: error, requestId: push?.requestId }, 'webhook request failed');
      if (ctx.res.headersSent) return;
      ctx.respond = true;
      ctx.status = status;
      ctx.type = 'text/plain';
      ctx.body = expose && error instanceof Error ? error.message : 'internal error';
    }
  };
}
