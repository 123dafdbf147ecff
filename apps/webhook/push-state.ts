/**
 * What the steps of a push share: a typed `ctx.state`, filled in pipeline order (`webhook.ts` declares it),
 * instead of a side channel. A step that finds a field of an earlier step missing is a wiring mistake.
 */
import type { ParameterizedContext } from 'koa';
import type { RequestLogState } from '../../libs/http/index.js';
import type { PushOutcome, PushQuery, VerifiedPush } from './push-verification.js';
import type { PushedMessage } from './scan-event.js';

/** What one `/wechat` request did, for its log line and its `webhookRequests` count. */
export interface PushRecord {
  outcome?: PushOutcome;
  ticketId?: string;
  mode?: VerifiedPush['mode'];
}

export interface PushState extends RequestLogState {
  push: PushRecord;
  /** `readPush`: when the push arrived (`performance.now()`, for WeChat's 5 s), the signed query and the body. */
  receivedAt?: number;
  query?: PushQuery;
  body?: string;
  /** `readPush`: the body's bytes as they came (forwarded byte for byte). */
  rawBody?: Buffer;
  /** `verifySignedPush`: the message XML, checked and decrypted. */
  opened?: VerifiedPush;
  /**
   * `guardReplay`: settles once the replay mark is checked, rejecting with the refusal of a forgery; await it
   * before acting on the push. `resent` is set by then.
   */
  replayChecked?: Promise<void>;
  /** `guardReplay`: this query string came before with the same body (WeChat re-sending it). */
  resent?: boolean;
  /** `parseWithPackage`: the parsed event message. */
  message?: PushedMessage;
}

export type PushContext = ParameterizedContext<PushState>;

/** A field an earlier step must have set. */
export function stepOutput<K extends keyof PushState>(ctx: PushContext, field: K): NonNullable<PushState[K]> {
  const value = ctx.state[field];
  if (value === undefined || value === null)
    throw new Error(`webhook pipeline: ${String(field)} is not set; a step is missing or out of order`);
  return value as NonNullable<PushState[K]>;
}
