/**
 * The WeChat webhook: a Koa app that receives WeChat's signed pushes, hardens them (WECHAT.md §10.4), hands the
 * message to the `wechat` package, and answers each QR scan within WeChat's 5 s (§6). It stands on the shared
 * edge (`libs/http`): one request log, one error path (text/plain), the probes.
 *
 * `POST /wechat` is the list of steps below, in order; each is a named middleware over a typed `ctx.state`:
 * record the push → raw body ≤ 64 KiB → `signature` (constant time), timestamp freshness, `<xml>` root with no
 * DTD and no prototype element names, in safe mode `msg_signature`, decryption (current key, then previous)
 * and AppID, plaintext refused if encryption is required → a used query string with another body refused
 * (`replay-guard.ts`; with the same body it is WeChat re-sending, handled again) → with WECHAT_FORWARD_URL,
 * a push that is not a login scan is forwarded to the account's backend and its answer returned → the package parses and
 * dispatches → `scan-event.ts` under a deadline (its delivery marks give a re-send of a finished push the same
 * reply) → the reply (encrypted with the key that decrypted the push).
 */
import Router from '@koa/router';
import Koa from 'koa';
import type { Engine } from '../../libs/engine/engine.js';
import { errorPath, httpError, mountProbes, requestLog, securityHeaders } from '../../libs/http/index.js';
import { createLoginService, type DeliveryMarkOptions } from '../../libs/login/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { readPushQuery, verifyRequestSignature } from './push-verification.js';
import type { PushContext } from './push-state.js';
import {
  describePush,
  guardReplay,
  parseWithPackage,
  readPush,
  recordPush,
  refusal,
  verifySignedPush,
  type PushStep,
} from './push-steps.js';
import { forwardOthers } from './push-forward.js';
import { answerScan } from './scan-answer.js';
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
const WECHAT_PATH = '/wechat';

/**
 * Build the webhook app: `GET|POST /wechat`, `/healthz`, `/readyz`, `/metrics`. Only `main.ts` listens; tests
 * and the standalone composition use `app.callback()`.
 */
export function createWebhook(deps: WebhookDeps): Koa {
  const { engine, config: settings, logger, metrics } = deps;
  const now = deps.now ?? Date.now;
  const login = createLoginService({ engine, metrics, logger, now });
  const replyDeadlineMs = deps.replyDeadlineMs ?? REPLY_DEADLINE_MS;

  const app = new Koa();
  // Every error is answered and logged by the error path; Koa's own printer would only duplicate it.
  app.silent = true;
  app.on('error', (err: unknown) => logger.error({ err }, 'webhook response failed'));

  // Strict and case-sensitive: `/wechat` is the one spelling the proxies route.
  const router = new Router({ strict: true, sensitive: true });
  mountProbes(router, { ping: () => engine.ping() });

  // Handshake (WECHAT.md §4.2): plaintext in every mode for Official Accounts (§7.1); `echostr` is not signed,
  // so it goes back as text/plain with nosniff, never as HTML from our origin (§10.4).
  const handshake: PushStep = async (ctx) => {
    const query = readPushQuery(ctx.query);
    const rejection = verifyRequestSignature(settings, query, now());
    if (rejection !== null) throw refusal(rejection);
    if (query.echostr === undefined || query.echostr === '' || query.echostr.length > 256) {
      throw httpError(400, 'echostr is required (at most 256 characters)', { outcome: 'bad_body' });
    }
    ctx.state.push.outcome = 'ok';
    ctx.type = 'text/plain';
    ctx.body = query.echostr;
  };

  router.get(WECHAT_PATH, recordPush(metrics), handshake);
  router.post(
    WECHAT_PATH,
    recordPush(metrics),
    readPush(settings, now),
    verifySignedPush(settings, now),
    guardReplay(engine, settings),
    // WECHAT_FORWARD_URL: what is not a login scan goes to the account's own backend (`push-forward.ts`).
    ...(settings.forwardUrl !== undefined ? [forwardOthers({ url: settings.forwardUrl, login, logger, replyDeadlineMs })] : []),
    parseWithPackage(settings, { deadlineMs: replyDeadlineMs, logger }),
    answerScan({
      login,
      kv: engine.kv,
      settings,
      logger,
      now,
      replyDeadlineMs,
      ...(deps.deliveryMarks ? { marks: deps.deliveryMarks } : {}),
    }),
  );

  // Nothing this app answers is meant to be rendered: `echostr` and error text stay text under nosniff (§10.4).
  app.use(securityHeaders(settings.publicUrl !== undefined ? { publicUrl: settings.publicUrl } : {}));
  app.use(requestLog({ logger, describe: (ctx) => describePush(ctx as PushContext) }));
  app.use(errorPath({ render: 'text', logger, logMessage: 'webhook request failed' }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
