/**
 * The confirmation page's views (`tap` mode): the request a scanner confirms or refuses, the one-line outcome
 * pages, their stylesheet and their Content-Security-Policy. Only HTML and CSS live here; `confirm-page.ts`
 * decides which page to show and with which status. Every value from a ticket or a link is escaped.
 */
import { escapeHtml } from '../../libs/http/index.js';
import { CONFIRMATION_PATH } from '../../libs/ticket/index.js';

/** How a link can fail; each has its own status (in `confirm-page.ts`) and its own words. */
export type Refusal = 'malformed' | 'forged' | 'expired' | 'used' | 'elsewhere';

const REFUSAL_TEXT: Record<Refusal, { zh: string; en: string }> = {
  malformed: { zh: '链接无效。', en: 'This link is not valid.' },
  forged: { zh: '链接无效或已被篡改，未进行任何操作。', en: 'This link is not valid or was altered. Nothing was changed.' },
  expired: {
    zh: '链接已过期，请在电脑上刷新二维码后重新扫码。',
    en: 'This link has expired. Refresh the QR code on the computer and scan again.',
  },
  used: { zh: '这个链接已经使用过，不能再次使用。', en: 'This link has already been used.' },
  elsewhere: {
    zh: '这个链接已在另一台设备上打开，只能在那台设备上确认。未进行任何操作。',
    en: 'This link was opened on another device and can only be answered there. Nothing was changed.',
  },
};

/** What the scanner sees about the browser that asked to log in. */
export interface LoginRequestView {
  /** Host of the site being logged in to. */
  site: string;
  /** Browser and operating system, as a person reads them. */
  browser: string;
  ip: string;
  time: string;
  /** The link's token, posted back with the decision. */
  token: string;
}

/** The request page: who asked, and the two buttons. */
export function requestView(view: LoginRequestView): string {
  return [
    `<h1>确认登录？<span lang="en">Sign in on this computer?</span></h1>`,
    '<p>有浏览器请求使用你的微信登录。请确认是你本人在操作。<span lang="en">A browser asked to sign in with your WeChat. Confirm only if it is you.</span></p>',
    '<dl>',
    row('网站', 'Site', view.site),
    row('浏览器', 'Browser', view.browser),
    row('IP', 'IP', view.ip),
    row('时间', 'Time', view.time),
    '</dl>',
    // Relative, so a gateway published under a path prefix (PUBLIC_URL https://example.com/login) posts back
    // to itself rather than to the site's root.
    `<form method="post" action="${CONFIRMATION_PATH.slice(1)}">`,
    `<input type="hidden" name="t" value="${escapeHtml(view.token)}">`,
    '<button type="submit" name="action" value="confirm" class="confirm">确认登录 <span lang="en">Confirm</span></button>',
    '<button type="submit" name="action" value="cancel" class="cancel">不是我 <span lang="en">Not me</span></button>',
    '</form>',
    '<p class="note">如果你没有在电脑上扫码登录，请点“不是我”。<span lang="en">If you did not just scan a code on a computer, tap “Not me”.</span></p>',
  ].join('');
}

/**
 * The request page again, after a tap whose decision a failover could still have undone (no Redis Cluster
 * replica acknowledged it in time): the scanner taps again, and that tap confirms it.
 */
export function retryView(view: LoginRequestView): string {
  return (
    '<p class="note">刚才没能可靠地保存你的选择，请再点一次。<span lang="en">Your answer could not be saved safely just now. Please tap it again.</span></p>' +
    requestView(view)
  );
}

/**
 * The page the link opens (`/confirm#t=<token>`): the token is in the fragment, which no browser sends and so no
 * proxy logs. Its one script moves the token out of the address bar and posts it (`action=open`); the answer is
 * the request page, and a cookie that binds the decision to this device. The form is marked so the simulator's
 * in-app browser, which runs no script, can do the same. `action`: the form's target relative to the page
 * (default the confirmation page itself), so a gateway published under a path prefix keeps it.
 */
export function openerView(nonce: string, action: string = CONFIRMATION_PATH.slice(1)): string {
  return [
    '<h1>正在打开… <span lang="en">Opening…</span></h1>',
    `<form method="post" action="${action}" id="open" data-from-fragment="t">`,
    '<input type="hidden" name="t" value="">',
    '<input type="hidden" name="action" value="open">',
    '</form>',
    '<noscript><p>请在微信中打开这个链接。<span lang="en">Open this link in WeChat.</span></p></noscript>',
    `<script nonce="${nonce}">${OPENER_SCRIPT}</script>`,
  ].join('');
}

const OPENER_SCRIPT = [
  "var t=new URLSearchParams(location.hash.slice(1)).get('t')||'';",
  // Out of the address bar (and so out of history, screenshots and a shared URL) before anything else.
  "history.replaceState(null,'',location.pathname);",
  "var f=document.getElementById('open');f.elements.t.value=t;f.submit();",
].join('');

/** The opener's policy: its own script by nonce, a form that posts only to us, nothing else. */
export function openerPageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'self'",
  ].join('; ');
}

/** A one-message page, in Chinese with the English below. */
export const messageView = (zh: string, en: string): string =>
  `<h1>${escapeHtml(zh)}</h1><p lang="en">${escapeHtml(en)}</p><p class="note">可以关闭这个页面。<span lang="en">You can close this page.</span></p>`;

/** The page for a link that cannot be used. */
export function refusalView(refusal: Refusal): string {
  const text = REFUSAL_TEXT[refusal];
  return messageView(text.zh, text.en);
}

/** The whole document around `body`; its stylesheet carries `nonce`. */
export function confirmDocument(page: { nonce: string; title: string; body: string }): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<style nonce="${page.nonce}">${CSS}</style>
</head>
<body><main>${page.body}</main></body>
</html>
`;
}

/** No script at all; the nonce admits only this page's stylesheet; the form may post only to us. */
export function confirmPageCsp(nonce: string): string {
  return ["default-src 'none'", `style-src 'nonce-${nonce}'`, "form-action 'self'", "base-uri 'none'", "frame-ancestors 'self'"].join('; ');
}

const row = (zh: string, en: string, value: string): string =>
  `<div><dt>${escapeHtml(zh)} <span lang="en">${escapeHtml(en)}</span></dt><dd>${escapeHtml(value)}</dd></div>`;

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
#phone-sessions { list-style: none; margin: 0; padding: 0; }
`;
