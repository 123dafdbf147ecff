/**
 * The last step of a push: hand the event to `scan-event.ts` and answer within WeChat's 5 s (WECHAT.md §6).
 * The policy: the reply text when the scan is handled in time; `success` past the deadline (the work goes on
 * and will most likely finish, and `success` keeps WeChat from running it twice); 503 with no body when the
 * scan failed (`success` would tell WeChat not to re-send, and the scan would be lost).
 */
import type { KeyValueStore } from '../../libs/engine/engine.js';
import type { DeliveryMarkOptions, LoginService } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { TIMED_OUT, withTimeout } from '../../libs/runtime/with-timeout.js';
import type { PushStep } from './push-steps.js';
import { stepOutput } from './push-state.js';
import { handleScanEvent, type ScanEventResult } from './scan-event.js';
import { answerRetryLater, answerSuccess, answerText } from './wechat-reply.js';
import type { WebhookSettings } from './webhook-settings.js';

export interface ScanAnswerDeps {
  login: LoginService;
  /** Where the scan's delivery marks live (shared by every webhook instance). */
  kv: KeyValueStore;
  settings: WebhookSettings;
  logger: Logger;
  now: () => number;
  /** Past this a scan is answered `success` and finishes in the background, ms. */
  replyDeadlineMs: number;
  /** Lease and retention of the scan delivery marks. Default: `libs/login`'s. */
  marks?: DeliveryMarkOptions;
}

type Settled = { ok: true; result: ScanEventResult } | { ok: false; error: unknown };

export function answerScan(deps: ScanAnswerDeps): PushStep {
  const { login, kv, settings, logger, now, replyDeadlineMs } = deps;
  const links = settings.confirmationLinks;
  const scanDeps = {
    login,
    kv,
    logger,
    confirmation: settings.confirmation,
    appId: settings.appId,
    now,
    ...(links ? { confirmationLinks: links } : {}),
    ...(settings.replyTexts ? { replyTexts: settings.replyTexts } : {}),
    ...(settings.publicUrl !== undefined ? { publicUrl: settings.publicUrl } : {}),
    ...(deps.marks ? { marks: deps.marks } : {}),
  };

  return async (ctx) => {
    const message = stepOutput(ctx, 'message');
    const { push, requestId } = ctx.state;
    // The replay mark is still being checked: the scan claims and reads meanwhile, and writes only once it passed.
    const cleared = stepOutput(ctx, 'replayChecked');
    const work = handleScanEvent(scanDeps, message, cleared).then(
      (result): Settled => ({ ok: true, result }),
      (error: unknown): Settled => ({ ok: false, error }),
    );
    const settled = await withTimeout(work, replyDeadlineMs);
    if (settled === TIMED_OUT) {
      push.outcome = 'timeout';
      logger.warn({ requestId }, `scan not handled within ${replyDeadlineMs} ms; answered success`);
      answerSuccess(ctx);
      void work.then((late) => {
        if (late.ok) logger.info({ requestId, outcome: late.result.kind }, 'scan finished after the deadline');
        else logger.error({ requestId, err: late.error }, 'scan failed after the deadline');
      });
      return;
    }
    // A forgery is refused as one (by `guardReplay`), not answered as a failed scan.
    await cleared;
    if (!settled.ok) {
      // `success` would tell WeChat not to re-send (WECHAT.md §6), so the scan would be lost. The delivery's
      // lease is released (or lapses), so the re-sent push runs again; an error status with no body is what
      // makes WeChat re-send it.
      push.outcome = 'error';
      logger.error({ requestId, err: settled.error }, 'scan handling failed; answered 503 so that WeChat re-sends the push');
      answerRetryLater(ctx);
      return;
    }
    // A re-sent query string answered from the delivery marks is counted as the replay it is.
    push.outcome = ctx.state.resent === true && settled.result.kind === 'duplicate' ? 'replay' : settled.result.kind;
    if ('ticketId' in settled.result && settled.result.ticketId !== undefined) push.ticketId = settled.result.ticketId;
    try {
      answerText(ctx, { settings, opened: stepOutput(ctx, 'opened'), message, text: settled.result.reply, nowMs: now() });
    } catch (error) {
      // The scan is recorded; a reply we cannot build must not make WeChat run it again.
      push.outcome = 'error';
      logger.error({ requestId, err: error }, 'could not write the reply');
      answerSuccess(ctx);
    }
  };
}
