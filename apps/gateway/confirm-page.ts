/**
 * `tap` mode's confirmation page (anti-QRLJacking): the scanner opens the one-time link from the Official
 * Account's reply in WeChat's in-app browser, sees which browser asked to log in, and confirms or refuses.
 *
 * `GET /confirm?t=<token>` shows the request; `POST /confirm` (an HTML form: `t`, `action=confirm|cancel`)
 * applies it. The token is verified against the openid stored with the ticket (`confirmation-link.ts`), the
 * ticket must still be `scanned`, and a kv mark makes the link single-use even while a first use is in
 * flight. No script, no external asset; every refusal is a page that says what happened.
 *
 * The decision is written first, then the browser's doorbell is rung. A publish that keeps failing does not
 * undo the decision: the scanner is told it is recorded, and opening the link again rings the doorbell again
 * (harmless when the browser heard it already: gateways deliver each version once).
 */
import { randomBytes } from 'node:crypto';
import type Koa from 'koa';
import type Router from '@koa/router';
import getRawBody from 'raw-body';
import { z } from 'zod';
import type { Engine } from '../../libs/engine/index.js';
import type { LoginService } from '../../libs/login/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import {
  CONFIRMATION_PATH,
  describeBrowser,
  displayIp,
  formatShanghaiTime,
  readConfirmationToken,
  verifyConfirmationToken,
  type Ticket,
} from '../../libs/ticket/index.js';
import { originAllowed, type GatewaySettings } from './gateway-settings.js';

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

/** How a link can fail, each with its own status and page. */
type Refusal = 'malformed' | 'forged' | 'expired' | 'used';

const REFUSAL_STATUS: Record<Refusal, number> = { malformed: 400, forged: 403, used: 409, expired: 410 };

const REFUSAL_TEXT: Record<Refusal, { zh: string; en: string }> = {
  malformed: { zh: '链接无效。', en: 'This link is not valid.' },
  forged: { zh: '链接无效或已被篡改，未进行任何操作。', en: 'This link is not valid or was altered. Nothing was changed.' },
  expired: { zh: '链接已过期，请在电脑上刷新二维码后重新扫码。', en: 'This link has expired. Refresh the QR code on the computer and scan again.' },
  used: { zh: '这个链接已经使用过，不能再次使用。', en: 'This link has already been used.' },
};

const formSchema = z.object({ t: z.string().max(256), action: z.enum(['confirm', 'cancel']) }).strict();
const FORM_LIMIT = '2kb';

/** Mount `GET|POST /confirm` on the gateway's router. */
export function mountConfirmPage(router: Router, deps: ConfirmPageDeps): void {
  const now = deps.now ?? Date.now;
  const site = new URL(deps.settings.publicUrl ?? 'http://localhost').host;

  /** The ticket a token proves, or why it proves nothing. */
  const check = async (token: unknown): Promise<{ ok: true; ticket: Ticket } | { ok: false; refusal: Refusal }> => {
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
    if (ticket.status === 'confirmed' || ticket.status === 'cancelled') {
      // This scanner decided already (the token is bound to the ticket's openid). If the publish after that
      // decision was lost, the browser is still waiting: opening the link again rings its doorbell again.
      await deps.login.ring(ticket);
      return { ok: false, refusal: 'used' };
    }
    if (ticket.status !== 'scanned' || (await deps.engine.kv.get(usedMark(ticket.id))) !== null) return { ok: false, refusal: 'used' };
    return { ok: true, ticket };
  };

  router.get(CONFIRMATION_PATH, async (ctx) => {
    const checked = await check(ctx.query.t);
    if (!checked.ok) return refuse(ctx, checked.refusal);
    const token = ctx.query.t as string;
    const { ticket } = checked;
    const { browser, os } = describeBrowser(ticket.browser.userAgent);
    render(ctx, 200, '确认登录 · Confirm sign-in', [
      `<h1>确认登录？<span lang="en">Sign in on this computer?</span></h1>`,
      '<p>有浏览器请求使用你的微信登录。请确认是你本人在操作。<span lang="en">A browser asked to sign in with your WeChat. Confirm only if it is you.</span></p>',
      '<dl>',
      row('网站', 'Site', site),
      row('浏览器', 'Browser', `${browser}（${os}）`),
      row('IP', 'IP', displayIp(ticket.browser.ip)),
      row('时间', 'Time', formatShanghaiTime(ticket.createdAt)),
      '</dl>',
      // Relative, so a gateway published under a path prefix (PUBLIC_URL https://example.com/login) posts back
      // to itself rather than to the site's root.
      `<form method="post" action="${CONFIRMATION_PATH.slice(1)}">`,
      `<input type="hidden" name="t" value="${escapeHtml(token)}">`,
      '<button type="submit" name="action" value="confirm" class="confirm">确认登录 <span lang="en">Confirm</span></button>',
      '<button type="submit" name="action" value="cancel" class="cancel">不是我 <span lang="en">Not me</span></button>',
      '</form>',
      '<p class="note">如果你没有在电脑上扫码登录，请点“不是我”。<span lang="en">If you did not just scan a code on a computer, tap “Not me”.</span></p>',
    ].join(''));
  });

  router.post(CONFIRMATION_PATH, async (ctx) => {
    // The form is ours; a browser posting it from elsewhere is a cross-site request (no Origin: not a browser's).
    if (!originAllowed(ctx.get('origin') || undefined, ctx.get('host') || undefined, deps.settings)) {
      return render(ctx, 403, '无法处理 · Refused', message('请求来源不被允许。', 'This request came from another site and was refused.'));
    }
    const form = await readForm(ctx);
    if (form === 'too_large') return render(ctx, 413, '无法处理 · Refused', message('请求过大。', 'The request is too large.'));
    if (form === null) return refuse(ctx, 'malformed');
    const checked = await check(form.t);
    if (!checked.ok) return refuse(ctx, checked.refusal);
    const { ticket } = checked;
    const mark = usedMark(ticket.id);
    // Single use even mid-flight: of two concurrent submissions only the one that sets the mark goes on.
    if (!(await deps.engine.kv.setIfAbsent(mark, form.action, Math.max(1_000, ticket.expiresAt - now()) + 60_000))) {
      return refuse(ctx, 'used');
    }
    let decided;
    try {
      decided = await deps.login.decide({ ticketId: ticket.id, openid: ticket.openid!, action: form.action });
    } catch (err) {
      // Nothing happened: let the scanner try the link again.
      await deps.engine.kv.delete(mark).catch(() => undefined);
      throw err;
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

/** The submitted form; null when it is not our form; `too_large` past FORM_LIMIT. */
async function readForm(ctx: Koa.Context): Promise<z.infer<typeof formSchema> | null | 'too_large'> {
  if (!ctx.is('application/x-www-form-urlencoded')) return null;
  let raw: string;
  try {
    raw = await getRawBody(ctx.req, { limit: FORM_LIMIT, encoding: 'utf8' });
  } catch (err) {
    return (err as { status?: number }).status === 413 ? 'too_large' : null;
  }
  const params = new URLSearchParams(raw);
  const fields: Record<string, string> = {};
  for (const [name, value] of params) {
    // A repeated field is not something our form sends.
    if (Object.hasOwn(fields, name)) return null;
    fields[name] = value;
  }
  const parsed = formSchema.safeParse(fields);
  return parsed.success ? parsed.data : null;
}

function refuse(ctx: Koa.Context, refusal: Refusal): void {
  const text = REFUSAL_TEXT[refusal];
  render(ctx, REFUSAL_STATUS[refusal], '无法确认 · Cannot confirm', message(text.zh, text.en));
}

const message = (zh: string, en: string): string =>
  `<h1>${escapeHtml(zh)}</h1><p lang="en">${escapeHtml(en)}</p><p class="note">可以关闭这个页面。<span lang="en">You can close this page.</span></p>`;

function render(ctx: Koa.Context, status: number, title: string, body: string): void {
  const nonce = randomBytes(16).toString('base64');
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', confirmPageCsp(nonce));
  ctx.set('X-Content-Type-Options', 'nosniff');
  // The simulator's phone shows the page in a same-origin frame; nobody else may frame it (clickjacking).
  ctx.set('X-Frame-Options', 'SAMEORIGIN');
  // The URL carries the token: never cache it, never send it to another origin as a Referer. Not
  // `no-referrer`: under it browsers send `Origin: null` with the form's POST, which the origin check refuses.
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Referrer-Policy', 'same-origin');
  ctx.body = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${CSS}</style>
</head>
<body><main>${body}</main></body>
</html>
`;
}

/** No script at all; the nonce admits only this page's stylesheet; the form may post only to us. */
export function confirmPageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `style-src 'nonce-${nonce}'`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
  ].join('; ');
}

const row = (zh: string, en: string, value: string): string =>
  `<div><dt>${escapeHtml(zh)} <span lang="en">${escapeHtml(en)}</span></dt><dd>${escapeHtml(value)}</dd></div>`;

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const CSS = `
:root { color-scheme: light dark; --fg:#1d1d1f; --bg:#f2f3f5; --card:#fff; --muted:#5f5f64; --green:#07c160; }
@media (prefers-color-scheme: dark) { :root { --fg:#f5f5f7; --bg:#111113; --card:#2c2c2e; --muted:#b4b4ba; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 16px; background: var(--bg); color: var(--fg);
  font: 17px/1.5 system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", sans-serif; }
main { max-width: 440px; margin: 0 auto; background: var(--card); border-radius: 16px; padding: 20px; }
h1 { font-size: 1.25rem; margin: 0 0 12px; }
h1 span, p span { display: block; font-size: .9rem; font-weight: 400; color: var(--muted); }
dl { margin: 16px 0; }
dl div { display: flex; justify-content: space-between; gap: 12px; padding: 8px 0; border-top: 1px solid rgba(127,127,127,.2); }
dt { color: var(--muted); } dt span { font-size: .8rem; } dd { margin: 0; text-align: right; word-break: break-all; }
form { display: grid; gap: 12px; margin-top: 16px; }
button { min-height: 48px; border: 0; border-radius: 10px; font: inherit; font-weight: 600; cursor: pointer; }
button span { font-weight: 400; }
button.confirm { background: var(--green); color: #fff; }
button.cancel { background: rgba(127,127,127,.15); color: var(--fg); }
button:focus-visible { outline: 3px solid #0a64d6; outline-offset: 2px; }
.note { color: var(--muted); font-size: .9rem; }
`;
