/**
 * The phone's page of a WeChat user's signed-in browsers (issue 12): the reply after a login links here
 * (`/sessions/phone#t=<token>`, libs/login phone-link.ts). Like the confirmation page, `GET` is a tiny opener
 * whose script posts the fragment (`action=open`); `POST` answers the list of the user's live sessions, each
 * with "sign out" (`action=end`, `sid`), and "sign out everywhere" (`action=end_all`). Every form carries the
 * token again, which is the only credential: it names the user, it expires, and it is checked on every post.
 * An ended session is pushed to its pages (`session_ended`, reason `revoked`) like any other.
 */
import type Koa from 'koa';
import type Router from '@koa/router';
import { z } from 'zod';
import { escapeHtml, readForm as readFormFields, sendPage } from '../../libs/http/index.js';
import { PHONE_SESSIONS_PATH, formatShanghaiTime, type PhoneLinks, type SessionBook, type SessionRecord } from '../../libs/login/index.js';
import { confirmDocument, confirmPageCsp, messageView, openerPageCsp, openerView } from './confirm-view.js';
import { originAllowed, type GatewaySettings } from './gateway-settings.js';

export interface PhoneSessionsPageDeps {
  links: PhoneLinks;
  sessions: SessionBook;
  settings: GatewaySettings;
  /** Told of the sessions ended here, to push `session_ended` to their pages. */
  onSessionsEnded(records: readonly SessionRecord[]): void;
}

const formSchema = z
  .object({
    t: z.string().max(64),
    action: z.enum(['open', 'end', 'end_all']),
    sid: z.string().max(64).optional(),
  })
  .strict();

const FORM_LIMIT = 2 * 1024;
const TITLE = '已登录的浏览器 · Signed-in browsers';
const PAGE_HEADERS = { 'X-Frame-Options': 'SAMEORIGIN', 'Referrer-Policy': 'same-origin' };

const hidden = (name: string, value: string): string => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;
/** Forms post back to this page, relative to it (a gateway published under a path prefix keeps it). */
const action = PHONE_SESSIONS_PATH.slice(PHONE_SESSIONS_PATH.lastIndexOf('/') + 1);

/** The list: "sign out everywhere" first, then one form per session. */
function listView(token: string, sessions: readonly SessionRecord[], notice: string | undefined): string {
  const rows = sessions.map(
    (s) =>
      `<li data-sid="${escapeHtml(s.sid)}"><dl><div><dt>浏览器 <span lang="en">Browser</span></dt><dd>${escapeHtml(`${s.browser}（${s.os}）`)}</dd></div>` +
      `<div><dt>IP</dt><dd>${escapeHtml(s.ip)}</dd></div>` +
      `<div><dt>登录时间 <span lang="en">Since</span></dt><dd>${escapeHtml(formatShanghaiTime(s.createdAt))}</dd></div></dl>` +
      `<form method="post" action="${action}">${hidden('t', token)}${hidden('sid', s.sid)}` +
      `<button class="cancel" name="action" value="end">退出 <span lang="en">Sign out</span></button></form></li>`,
  );
  return [
    `<h1>已登录的浏览器 <span lang="en">Your signed-in browsers</span></h1>`,
    notice !== undefined ? `<p id="notice" role="status">${notice}</p>` : '',
    sessions.length === 0
      ? '<p id="none">没有已登录的浏览器。<span lang="en">No browser is signed in.</span></p>'
      : `<form method="post" action="${action}">${hidden('t', token)}<button class="confirm" name="action" value="end_all">全部退出 <span lang="en">Sign out everywhere</span></button></form>` +
        `<ul id="phone-sessions">${rows.join('')}</ul>`,
  ].join('');
}

export function mountPhoneSessionsPage(router: Router, deps: PhoneSessionsPageDeps): void {
  const { links, sessions, settings } = deps;

  const render = (ctx: Koa.Context, status: number, body: string): void =>
    sendPage(ctx, {
      status,
      csp: confirmPageCsp,
      render: (nonce) => confirmDocument({ nonce, title: TITLE, body }),
      headers: PAGE_HEADERS,
    });

  router.get(PHONE_SESSIONS_PATH, (ctx) => {
    sendPage(ctx, {
      csp: openerPageCsp,
      render: (nonce) => confirmDocument({ nonce, title: TITLE, body: openerView(nonce, action) }),
      headers: PAGE_HEADERS,
    });
  });

  router.post(PHONE_SESSIONS_PATH, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (!originAllowed(ctx.get('origin') || undefined, ctx.get('host') || undefined, settings)) {
      return render(ctx, 403, messageView('请求来源不被允许。', 'This request came from another site and was refused.'));
    }
    let fields: unknown;
    try {
      fields = await readFormFields(ctx, { limit: FORM_LIMIT });
    } catch (err) {
      const tooLarge = (err as { status?: unknown }).status === 413;
      return render(
        ctx,
        tooLarge ? 413 : 400,
        messageView('请求无效。', tooLarge ? 'The request is too large.' : 'The request is malformed.'),
      );
    }
    const form = formSchema.safeParse(fields ?? undefined);
    if (!form.success) return render(ctx, 400, messageView('请求无效。', 'The request is malformed.'));
    const { t: token, sid } = form.data;
    const openid = await links.resolve(token);
    if (openid === null) {
      return render(ctx, 410, messageView('链接已失效。', 'This link has expired: scan to sign in again to get a new one.'));
    }
    let notice: string | undefined;
    if (form.data.action === 'end') {
      const ended = sid === undefined ? null : await sessions.end(openid, sid, 'revoked');
      if (ended !== null) deps.onSessionsEnded([ended]);
      notice =
        ended !== null
          ? '已退出该浏览器。<span lang="en">That browser is signed out.</span>'
          : '该浏览器已经退出。<span lang="en">That browser was signed out already.</span>';
    } else if (form.data.action === 'end_all') {
      const ended = await sessions.endAll(openid, () => 'revoked');
      deps.onSessionsEnded(ended);
      notice = '已全部退出。<span lang="en">Every browser is signed out.</span>';
    }
    render(ctx, 200, listView(token, await sessions.listOf(openid), notice));
  });
}
