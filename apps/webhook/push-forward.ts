/**
 * Forward what is not ours (WECHAT_FORWARD_URL). An Official Account has one server URL: pointed at qrgate,
 * its existing backend would no longer see messages, menu clicks or follows. Every verified push that is not a
 * login scan goes to that backend as WeChat sent it — method, query string, the headers that matter, and the
 * body byte for byte, so the backend checks WeChat's signature (and in safe mode decrypts) itself — and its
 * answer goes back to WeChat untouched. What it cannot answer within WeChat's 5 s is answered `success`.
 *
 * The classification is pure (`isLoginScan`); the step does the one HTTP call.
 */
import type { Next } from 'koa';
import type { LoginService } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { ticketIdSchema } from '../../libs/protocol/index.js';
import { xmlElementText } from '../../libs/wechat/index.js';
import { stepOutput, type PushContext } from './push-state.js';
import { sceneOf } from './scan-event.js';
import { answerSuccess } from './wechat-reply.js';

/** The largest answer of the backend passed on; WeChat takes one short message, anything bigger is a fault. */
export const MAX_FORWARD_REPLY_BYTES = 64 * 1024;

/** Request headers passed on: what a WeChat backend (or its framework) reads. Hop-by-hop ones never are. */
const FORWARDED_HEADERS = ['content-type', 'user-agent', 'accept'] as const;

const OPENID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * A login scan is ours: a follow or a `SCAN` whose scene names one of our tickets (a ticket id, known or
 * expired). A follow with the account's own integer or string scene, a plain follow and everything else is not.
 */
export function isLoginScan(xml: string): boolean {
  if (xmlElementText(xml, 'MsgType') !== 'event') return false;
  const scene = sceneOf({ Event: xmlElementText(xml, 'Event'), EventKey: xmlElementText(xml, 'EventKey') });
  return scene !== null && ticketIdSchema.safeParse(scene).success;
}

export interface ForwardDeps {
  /** WECHAT_FORWARD_URL: the backend's own server URL (no query string: WeChat's is appended). */
  url: string;
  login: LoginService;
  logger: Logger;
  /** WeChat's budget for the whole answer, counted from the push's arrival, ms. */
  replyDeadlineMs: number;
}

/** The backend's answer as it goes back to WeChat, or why it does not. */
type Forwarded = { ok: true; status: number; type: string | null; body: Buffer } | { ok: false; reason: string };

/**
 * The step before the package: a push that is not a login scan is forwarded and answered here; a login scan
 * goes on to be ours. An unfollow is forwarded and also forgets the user's login counter, as it does unforwarded.
 */
export function forwardOthers(deps: ForwardDeps): (ctx: PushContext, next: Next) => Promise<void> {
  const target = new URL(deps.url);
  return async (ctx, next) => {
    const { xml } = stepOutput(ctx, 'opened');
    if (isLoginScan(xml)) {
      await next();
      return;
    }
    // Nothing leaves for the backend before the query string is known not to be a forgery's.
    await stepOutput(ctx, 'replayChecked');
    const forgetting = forgetOnUnfollow(deps, xml);
    const elapsed = performance.now() - (ctx.state.receivedAt ?? performance.now());
    const budget = Math.max(0, Math.floor(deps.replyDeadlineMs - elapsed));
    const url = new URL(target);
    url.search = ctx.querystring;
    const headers = new Headers();
    for (const name of FORWARDED_HEADERS) {
      const value = ctx.get(name);
      if (value !== '') headers.set(name, value);
    }
    // The usual proxy headers, so a backend that checks WeChat's addresses still sees them.
    const prior = ctx.get('x-forwarded-for');
    const peer = ctx.req.socket.remoteAddress ?? '';
    headers.set('x-forwarded-for', prior !== '' ? `${prior}, ${peer}` : peer);
    headers.set('x-forwarded-host', ctx.host);
    headers.set('x-forwarded-proto', ctx.protocol);
    const forwarded = await forward(url, headers, stepOutput(ctx, 'rawBody'), budget);
    await forgetting;
    const { push, requestId } = ctx.state;
    if (!forwarded.ok) {
      // WeChat would show "this account cannot provide service" for an error, and retry a silence: `success`
      // says nothing to the user and stops the retries (WECHAT.md §6).
      push.outcome = 'forward_failed';
      deps.logger.warn({ requestId, reason: forwarded.reason }, 'forwarded push not answered; answered success');
      answerSuccess(ctx);
      return;
    }
    push.outcome = 'forwarded';
    ctx.status = forwarded.status;
    if (forwarded.type !== null) ctx.type = forwarded.type;
    ctx.body = forwarded.body;
    if (forwarded.type === null) ctx.remove('Content-Type');
  };
}

async function forgetOnUnfollow(deps: ForwardDeps, xml: string): Promise<void> {
  if (xmlElementText(xml, 'MsgType') !== 'event' || xmlElementText(xml, 'Event') !== 'unsubscribe') return;
  const openid = xmlElementText(xml, 'FromUserName') ?? '';
  if (!OPENID.test(openid)) return;
  try {
    await deps.login.counter.forget(openid);
  } catch (error) {
    deps.logger.warn({ err: error }, 'could not forget the login counter of an unfollowing user');
  }
}

/** POST the push to the backend within `budgetMs`; a 2xx answer within the size limit is passed on. */
async function forward(url: URL, headers: Headers, body: Buffer, budgetMs: number): Promise<Forwarded> {
  if (budgetMs <= 0) return { ok: false, reason: 'no time left' };
  const signal = AbortSignal.timeout(budgetMs);
  try {
    // `manual`: a redirect is the backend's misconfiguration, not a place to send WeChat's push on to.
    const response = await fetch(url, { method: 'POST', headers, body: new Uint8Array(body), redirect: 'manual', signal });
    if (response.status < 200 || response.status > 299) {
      await response.body?.cancel();
      return { ok: false, reason: `status ${response.status}` };
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > MAX_FORWARD_REPLY_BYTES) {
      await response.body?.cancel();
      return { ok: false, reason: `answer of ${declared} bytes` };
    }
    const bytes = await readLimited(response);
    if (bytes === null) return { ok: false, reason: `answer over ${MAX_FORWARD_REPLY_BYTES} bytes` };
    return { ok: true, status: response.status, type: response.headers.get('content-type'), body: bytes };
  } catch (error) {
    const name = (error as Error).name;
    return {
      ok: false,
      reason:
        name === 'TimeoutError' || name === 'AbortError'
          ? `no answer within ${Math.round(budgetMs)} ms`
          : `unreachable (${(error as Error).message})`,
    };
  }
}

/** The answer's bytes, or null past {@link MAX_FORWARD_REPLY_BYTES} (read no further: the stream is cancelled). */
async function readLimited(response: Response): Promise<Buffer | null> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > MAX_FORWARD_REPLY_BYTES) {
      await response.body.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
