/**
 * `tap` mode's confirmation page (anti-QRLJacking): the scanner opens the one-time link from the Official
 * Account's reply in WeChat's in-app browser, sees which browser asked to log in, and confirms or refuses.
 *
 * The link is `/confirm#t=<token>`: the token sits in the fragment, which browsers never send, so no proxy or
 * access log sees it. `GET /confirm` is a tiny page whose script posts the fragment (`action=open`); that
 * answer shows the request and sets a short-lived SameSite=Strict cookie binding the link to this device (the
 * first to open it). `POST /confirm` with `action=confirm|cancel` applies the decision, only with that cookie.
 * Whoever reads the link later (a log, a shoulder) gets "opened on another device". The token is verified against the openid stored with the ticket (`confirmation-link.ts`), the
 * ticket must still be `scanned`, and a kv mark makes the link single-use even while a first use is in
 * flight. No script, no external asset; every refusal is a page that says what happened.
 *
 * The decision is written first, then the browser's doorbell is rung. A publish that keeps failing does not
 * undo the decision: the scanner is told it is recorded, and opening the link again rings the doorbell again
 * (harmless when the browser heard it already: gateways deliver each version once). On a Redis Cluster the
 * decision counts only once a replica has it: when none acknowledges it in time the scanner gets 503 and the
 * same buttons, nobody is told, and the tap again finds the decision stored and confirms it reached a replica.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type Koa from 'koa';
import type Router from '@koa/router';
import { z } from 'zod';
import { ReplicaUnconfirmedError, type Engine } from '../../libs/engine/index.js';
import { describeBrowser, displayIp, formatShanghaiTime, type LoginService } from '../../libs/login/index.js';
import { readForm as readFormFields, sendPage } from '../../libs/http/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { CONFIRMATION_PATH, readConfirmationToken, ticketLogId, verifyConfirmationToken, type Ticket } from '../../libs/ticket/index.js';
import { originAllowed, type GatewaySettings } from './gateway-settings.js';
import {
  confirmDocument,
  confirmPageCsp,
  messageView as message,
  openerPageCsp,
  openerView,
  refusalView,
  requestView,
  retryView,
  type LoginRequestView,
  type Refusal,
} from './confirm-view.js';

export interface ConfirmPageDeps {
  engine: Engine;
  /** The use cases: `decide()` writes the decision and rings the browser's doorbell. */
  login: LoginService;
  settings: GatewaySettings;
  /** SESSION_SECRET: the HMAC key the webhook signed the links with. */
  secret: string;
  logger: Logger;
  metrics: Metrics;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
}

const REFUSAL_STATUS: Record<Refusal, number> = { malformed: 400, forged: 403, used: 409, expired: 410, elsewhere: 403 };

const formSchema = z.object({ t: z.string().max(256), action: z.enum(['open', 'confirm', 'cancel']) }).strict();

/** The cookie that names the device which first opened a ticket's link. */
export const CONFIRM_DEVICE_COOKIE = 'qrgate_confirm';
const FORM_LIMIT = 2 * 1024;

/** Mount `GET|POST /confirm` on the gateway's router. */
export function mountConfirmPage(router: Router, deps: ConfirmPageDeps): void {
  const now = deps.now ?? Date.now;
  const site = new URL(deps.settings.publicUrl ?? 'http://localhost').host;

  /**
   * The ticket a token proves for `action`, or why it proves nothing. A ticket its scanner decided already
   * passes while the link is not used up (a decision answered with an error gives the link back): for that
   * same decision, which `decide()` confirms and rings, and for `open` (the page reloaded), which shows the
   * buttons again. Nobody is rung for such a decision until a tap has confirmed that a replica has it.
   */
  const check = async (
    token: unknown,
    action: z.infer<typeof formSchema>['action'],
  ): Promise<{ ok: true; ticket: Ticket } | { ok: false; refusal: Refusal }> => {
    const parts = readConfirmationToken(token);
    if (parts === null) return { ok: false, refusal: 'malformed' };
    const ticket = await deps.engine.tickets.get(parts.ticketId);
    // Gone from the store: its TTL passed (or it never existed, which a genuine link cannot name).
    if (ticket === null) return { ok: false, refusal: 'expired' };
    // Links are minted only after a scan; a ticket nobody scanned has no link.
    if (ticket.openid === undefined) return { ok: false, refusal: 'forged' };
    const verified = verifyConfirmationToken(token, { openid: ticket.openid, secret: deps.secret, now: now() });
    if (!verified.ok) return { ok: false, refusal: verified.reason === 'expired' ? 'expired' : 'forged' };
    if (ticket.status === 'expired' || now() >= ticket.expiresAt) return { ok: false, refusal: 'expired' };
    const used = async (): Promise<boolean> => (await deps.engine.kv.get(usedMark(ticket.id))) !== null;
    const decidedAs = ticket.status === 'confirmed' ? 'confirm' : ticket.status === 'cancelled' ? 'cancel' : undefined;
    if (decidedAs !== undefined && !(await used())) {
      // Decided, but answered with an error: the same decision again, or the page reloaded, may go on.
      return action === 'open' || action === decidedAs ? { ok: true, ticket } : { ok: false, refusal: 'used' };
    }
    if (decidedAs !== undefined) {
      // This scanner decided already (the token is bound to the ticket's openid). If the publish after that
      // decision was lost, the browser is still waiting: opening the link again rings its doorbell again.
      await deps.login.ring(ticket);
      return { ok: false, refusal: 'used' };
    }
    if (ticket.status !== 'scanned' || (await used())) return { ok: false, refusal: 'used' };
    return { ok: true, ticket };
  };

  /**
   * Whether this request comes from the device bound to the ticket's link; `bind` makes the first device to
   * ask the bound one (setIfAbsent: of two first opens, one wins) and gives it the cookie.
   */
  const sameDevice = async (ctx: Koa.Context, ticket: Ticket, bind: boolean): Promise<boolean> => {
    const mark = deviceMark(ticket.id);
    const presented = ctx.cookies.get(CONFIRM_DEVICE_COOKIE) ?? '';
    const bound = await deps.engine.kv.get(mark);
    if (bound !== null) return presented !== '' && safeEqual(bound, presented);
    if (!bind) return false;
    const device = randomBytes(18).toString('base64url');
    const ttlMs = Math.max(1_000, ticket.expiresAt - now()) + 60_000;
    if (!(await deps.engine.kv.setIfAbsent(mark, device, ttlMs))) return false;
    const secure = deps.settings.publicUrl?.startsWith('https:') ?? false;
    if (secure) ctx.cookies.secure = true;
    ctx.cookies.set(CONFIRM_DEVICE_COOKIE, device, {
      httpOnly: true,
      sameSite: 'strict',
      secure,
      path: ctx.path,
      maxAge: ttlMs,
      overwrite: true,
    });
    return true;
  };

  // The opener: no token here (it is in the fragment); the page posts it.
  router.get(CONFIRMATION_PATH, (ctx) => {
    sendPage(ctx, {
      csp: openerPageCsp,
      render: (nonce) => confirmDocument({ nonce, title: '确认登录 · Confirm sign-in', body: openerView(nonce) }),
      headers: PAGE_HEADERS,
    });
  });

  /** What the request page shows of the browser that asked, with the link's token to post back. */
  const requestOf = (ticket: Ticket, token: string): LoginRequestView => {
    const { browser, os } = describeBrowser(ticket.browser.userAgent);
    return { site, browser: `${browser}（${os}）`, ip: displayIp(ticket.browser.ip), time: formatShanghaiTime(ticket.createdAt), token };
  };

  router.post(CONFIRMATION_PATH, async (ctx) => {
    // The form is ours; a browser posting it from elsewhere is a cross-site request (no Origin: not a browser's).
    if (!originAllowed(ctx.get('origin') || undefined, ctx.get('host') || undefined, deps.settings)) {
      return render(ctx, 403, '无法处理 · Refused', message('请求来源不被允许。', 'This request came from another site and was refused.'));
    }
    const form = await readForm(ctx);
    if (form === 'too_large') return render(ctx, 413, '无法处理 · Refused', message('请求过大。', 'The request is too large.'));
    if (form === null) return refuse(ctx, 'malformed');
    const checked = await check(form.t, form.action);
    if (!checked.ok) return refuse(ctx, checked.refusal);
    const { ticket } = checked;
    if (form.action === 'open') {
      if (!(await sameDevice(ctx, ticket, true))) return refuse(ctx, 'elsewhere');
      return render(ctx, 200, '确认登录 · Confirm sign-in', requestView(requestOf(ticket, form.t)));
    }
    // The decision belongs to the device that opened the link: a copy of the link elsewhere decides nothing.
    if (!(await sameDevice(ctx, ticket, false))) return refuse(ctx, 'elsewhere');
    const mark = usedMark(ticket.id);
    // Single use even mid-flight: of two concurrent submissions only the one that sets the mark goes on.
    if (!(await deps.engine.kv.setIfAbsent(mark, form.action, Math.max(1_000, ticket.expiresAt - now()) + 60_000))) {
      return refuse(ctx, 'used');
    }
    let decided;
    try {
      decided = await deps.login.decide({ ticketId: ticket.id, openid: ticket.openid!, action: form.action });
    } catch (err) {
      // Nobody was told of the decision: give the link back, and show the same buttons again (as the gateway's
      // other store failures, a 503 to retry, not a final 500).
      await deps.engine.kv.delete(mark).catch(() => undefined);
      if (err instanceof ReplicaUnconfirmedError) {
        // Written, but a failover could still undo it (no Redis Cluster replica acknowledged it in time): the tap
        // that follows finds the decision stored and confirms it reached a replica.
        deps.logger.warn({ err, ticket: ticketLogId(ticket.id) }, 'decision not acknowledged by a replica; asked the scanner to tap again');
      } else {
        // The store failed (a failover, a dropped connection): the tap that follows applies the decision again.
        deps.logger.error({ err, ticket: ticketLogId(ticket.id) }, 'could not record the decision; asked the scanner to tap again');
      }
      return render(ctx, 503, '请再点一次 · Tap again', retryView(requestOf(ticket, form.t)), { 'Retry-After': '1' });
    }
    if (decided.kind === 'refused') {
      return refuse(ctx, decided.reason === 'expired' || decided.reason === 'not_found' ? 'expired' : 'used');
    }
    // The decision is in the store from here on: nothing below may turn it into an error page (the mark stays,
    // so the scanner could not try again, and retrying would not be needed anyway). The doorbell was rung by
    // `decide()`; `told` says whether it got through.
    const { told } = decided;
    if (decided.kind === 'cancelled') {
      return render(
        ctx,
        200,
        '已拒绝 · Refused',
        told
          ? message('已拒绝这次登录，电脑不会登录。', 'Sign-in refused. The computer was not signed in.')
          : message(
              '已记录你的拒绝，电脑不会登录；电脑上的页面稍后会更新。',
              'Your refusal is recorded and the computer will not be signed in; its page will update shortly.',
            ),
      );
    }
    const count = decided.loginCount;
    const countZh = count !== undefined ? `这是你第 ${count} 次登录。` : '';
    const countEn = count !== undefined ? ` This is your sign-in number ${count}.` : '';
    return render(
      ctx,
      200,
      '已确认 · Confirmed',
      told
        ? message(`已确认登录，请回到电脑继续。${countZh}`, `Sign-in confirmed. Go back to the computer.${countEn}`)
        : message(
            `已记录你的确认，电脑上的页面稍后会完成登录。${countZh}`,
            `Your confirmation is recorded; the computer will update shortly.${countEn}`,
          ),
    );
  });
}

/** Key of a link's single-use mark: one link per ticket, since only one WeChat user can scan it. */
const usedMark = (ticketId: string): string => `confirm:used:${ticketId}`;
/** Key of the device a ticket's link is bound to (the first to open it). */
const deviceMark = (ticketId: string): string => `confirm:device:${ticketId}`;

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const PAGE_HEADERS = {
  // The simulator's phone shows the page in a same-origin frame; nobody else may frame it (clickjacking).
  'X-Frame-Options': 'SAMEORIGIN',
  // Not `no-referrer`: under it browsers send `Origin: null` with the form's POST, which the origin check refuses.
  'Referrer-Policy': 'same-origin',
};

/** The submitted form; null when it is not our form; `too_large` past FORM_LIMIT. */
async function readForm(ctx: Koa.Context): Promise<z.infer<typeof formSchema> | null | 'too_large'> {
  let fields;
  try {
    fields = await readFormFields(ctx, { limit: FORM_LIMIT });
  } catch (err) {
    // Anything else unreadable (a broken stream, a body that never finishes) is not our form either.
    return (err as { status?: unknown }).status === 413 ? 'too_large' : null;
  }
  const parsed = formSchema.safeParse(fields ?? undefined);
  return parsed.success ? parsed.data : null;
}

function refuse(ctx: Koa.Context, refusal: Refusal): void {
  render(ctx, REFUSAL_STATUS[refusal], '无法确认 · Cannot confirm', refusalView(refusal));
}

/** Answer with one of this page's documents (`confirm-view.ts`) under the shared nonce-CSP shell. */
function render(ctx: Koa.Context, status: number, title: string, body: string, headers: Record<string, string> = {}): void {
  sendPage(ctx, {
    status,
    csp: confirmPageCsp,
    render: (nonce) => confirmDocument({ nonce, title, body }),
    headers: { ...PAGE_HEADERS, ...headers },
  });
}
