/**
 * The login page served at `/`: the browser client (`/client/qrgate.js`) rendered in a card, in English or
 * Chinese, light or dark. Scripts and styles run under a per-response CSP nonce; nothing else inline runs.
 */
import { escapeHtml } from '../../libs/http/index.js';
import { CLIENT_BUNDLE_ROUTE } from './client-bundle.js';
import { MESSAGES, pickLocale, type Locale } from '../../libs/client/messages.js';
import { QR_LOGIN_CSS } from '../../libs/client/qr-login-styles.js';

export { pickLocale, type Locale };

export interface LoginPageOptions {
  /** Random per response; allows exactly this page's inline bootstrap and stylesheet. */
  nonce: string;
  acceptLanguage?: string;
  /** `zh` or `en`, overriding Accept-Language. */
  lang?: string;
  /** Demo mode: link to the phone simulator. */
  simulatorUrl?: string;
  /** Demo mode: link to the sample OpenID Connect relying party. */
  demoRpUrl?: string;
  /**
   * The login step of an OpenID Connect sign-in: the code is redeemed at `exchangeUrl` (which finishes the
   * interaction) and the page then continues where that answer says; `clientId` names the site asking.
   */
  oidc?: { exchangeUrl: string; clientId: string };
  /**
   * Inside WeChat: the one-tap button instead of the QR code, linking to `href` (`GET /auth/wechat` with the
   * page's same-origin `redirect`, or the OpenID Connect interaction's `…/wechat`).
   */
  wechatLogin?: { href: string };
  /** Demo mode reachable from the network: a banner says anyone can log in. */
  demoExposed?: boolean;
}

/** The banner of a demo other machines reach; the same words in both languages, it must not be missed. */
export const DEMO_EXPOSED_WARNING =
  'Warning: this is the qrgate demo and it is reachable from the network. Its WeChat simulator lets anyone log in as any user. 警告：演示模式可从网络访问，任何人都能以任意用户登录。';

/**
 * The page's Content-Security-Policy. `'self'` scripts cover the client module; the nonce covers the page's
 * own bootstrap and styles. Images may be `data:` (the QR) or remote (a WeChat avatar or QR image host).
 */
export function loginPageCsp(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'`,
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: https: http:",
    "connect-src 'self' ws: wss:",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const PAGE_CSS = `
.demo-exposed{margin:0;padding:12px 16px;background:#b00020;color:#fff;font-weight:700;text-align:center}
:root { color-scheme: light dark; --fg:#1d1d1f; --bg:#f2f3f5; --card:#fff; --muted:#5f5f64; --link:#067a3c; --focus:#0a64d6; }
@media (prefers-color-scheme: dark) {
  :root { --fg:#f5f5f7; --bg:#111113; --card:#2c2c2e; --muted:#b4b4ba; --link:#3ddc84; --focus:#64a8ff; }
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body {
  min-height: 100vh; display: flex; flex-direction: column; align-items: center; justify-content: center;
  padding: 56px 12px 24px; color: var(--fg); background: var(--bg);
  font: 16px/1.5 system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", sans-serif;
}
.lang { position: absolute; top: 12px; right: 12px; }
a { color: var(--link); text-underline-offset: 2px; }
a:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; border-radius: 4px; }
.lang a { display: inline-block; padding: 6px 12px; border-radius: 999px; background: var(--card); text-decoration: none; font-size: .9rem; }
main {
  width: min(400px, 100%); background: var(--card); border-radius: 20px; padding: 28px 24px 24px;
  text-align: center; box-shadow: 0 8px 32px rgba(0, 0, 0, .08);
}
.brand { width: 44px; height: 44px; margin: 0 auto 8px; color: #07c160; }
h1 { font-size: 1.35rem; margin: 0 0 6px; }
.intro { margin: 0 0 20px; color: var(--muted); font-size: .95rem; }
.sim { margin: 20px 0 0; font-size: .9rem; }
noscript p { color: var(--muted); }
.qrgate { --qrgate-surface: var(--card); }
#sessions { margin: 20px 0 0; text-align: left; }
#sessions h2 { font-size: 1rem; margin: 0 0 8px; }
#session-list { list-style: none; margin: 0 0 12px; padding: 0; }
#session-list li { display: flex; justify-content: space-between; align-items: center; gap: 8px; padding: 6px 0; border-top: 1px solid color-mix(in srgb, var(--fg) 15%, transparent); font-size: .9rem; }
#sessions button { white-space: nowrap; font: inherit; font-size: .9rem; padding: 6px 12px; border-radius: 999px; border: 1px solid var(--fg); background: var(--card); color: var(--fg); cursor: pointer; }
#sessions button:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
#session-notice { min-height: 1.5em; margin: 8px 0 0; font-size: .9rem; }
@media (max-width: 360px) {
  body { padding: 52px 8px 16px; }
  main { padding: 20px 14px 18px; border-radius: 16px; }
  h1 { font-size: 1.2rem; }
}
`;

/** WeChat's two speech bubbles, decorative. */
const BRAND_SVG = `<svg class="brand" viewBox="0 0 48 48" aria-hidden="true" focusable="false"><path fill="currentColor" d="M18.5 8C10.5 8 4 13.4 4 20.1c0 3.8 2.1 7.2 5.4 9.4L8 34l5.2-2.7c1.7.5 3.4.7 5.3.7h.9a11 11 0 0 1-.4-3c0-6.6 6.3-12 14.1-12h.8C32.5 11.6 26.1 8 18.5 8Zm-5 7.2a1.9 1.9 0 1 1 0 3.8 1.9 1.9 0 0 1 0-3.8Zm10 0a1.9 1.9 0 1 1 0 3.8 1.9 1.9 0 0 1 0-3.8Z"/><path fill="currentColor" d="M33.1 19C26.4 19 21 23.5 21 29s5.4 10 12.1 10c1.4 0 2.8-.2 4.1-.6L41.5 40l-1.1-3.7C42.6 34.5 44 32 44 29c0-5.5-5.3-10-10.9-10Zm-4.2 5.9a1.6 1.6 0 1 1 0 3.2 1.6 1.6 0 0 1 0-3.2Zm8.2 0a1.6 1.6 0 1 1 0 3.2 1.6 1.6 0 0 1 0-3.2Z"/></svg>`;

/**
 * The bootstrap: start the client in the card, keep `?redirect=` and other parameters across the language
 * switch, and after login go to `?redirect=` when it is a same-origin path (`/x`, never `//x` or `/\x`).
 */
const BOOTSTRAP = `
import { createQrLogin, listSessions, signOut, signOutEverywhere, watchSession } from '${CLIENT_BUNDLE_ROUTE}';
const root = document.getElementById('qrgate-login');
const params = new URLSearchParams(location.search);
const raw = params.get('redirect');
const redirect = raw !== null && /^\\/(?![\\/\\\\])/.test(raw) && !/[\\\\\\u0000-\\u001f]/.test(raw) ? raw : null;
const switcher = document.getElementById('lang-switch');
const switched = new URL(location.href);
switched.searchParams.set('lang', switcher.dataset.lang);
switcher.href = switched.pathname + switched.search;
const exchangeUrl = root.dataset.exchange;
// Signed in on this page: the user's sessions, each with "sign out", kept live over /session (issue 12).
const panel = document.getElementById('sessions');
const list = document.getElementById('session-list');
const notice = document.getElementById('session-notice');
const everywhere = document.getElementById('sign-out-everywhere');
const gateway = { url: location.origin };
let watch;
async function renderSessions() {
  let sessions;
  try { sessions = await listSessions(gateway); } catch { return; }
  if (document.body.dataset.session === 'ended') return;
  list.replaceChildren(...sessions.map((s) => {
    const item = document.createElement('li');
    item.dataset.sid = s.sid;
    if (s.current) item.dataset.current = 'true';
    const label = document.createElement('span');
    label.textContent = s.browser + ' · ' + s.ip + (s.current ? ' (' + panel.dataset.thisDevice + ')' : '');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'session-sign-out';
    button.textContent = panel.dataset.signOut;
    button.setAttribute('aria-label', panel.dataset.signOut + ': ' + s.browser);
    button.addEventListener('click', () => { signOut({ ...gateway, sid: s.sid }).then(renderSessions, renderSessions); });
    item.append(label, button);
    return item;
  }));
}
function ended() {
  watch?.close();
  document.body.dataset.session = 'ended';
  list.replaceChildren();
  everywhere.hidden = true;
  notice.textContent = panel.dataset.ended;
}
function showSessions() {
  panel.hidden = false;
  document.body.dataset.session = 'live';
  renderSessions();
  watch = watchSession({
    ...gateway,
    onSessionEnded: ended,
    onRefused: (code) => { if (code === 'SESSION_ENDED' || code === 'SESSION_INVALID') ended(); },
    onSessionStarted: (started) => {
      notice.textContent = panel.dataset.started.replace('{browser}', started.browser);
      renderSessions();
    },
  });
}
everywhere?.addEventListener('click', () => { signOutEverywhere(gateway).catch(() => {}); });
createQrLogin({
  url: location.origin,
  container: root,
  locale: root.dataset.locale,
  styles: false,
  ...(exchangeUrl ? { exchangeUrl } : {}),
  onStateChange(s) { document.body.dataset.state = s.state; },
  onLogin(result) {
    // The OpenID Connect login step: back to the provider, which sends the browser on to the client.
    const next = exchangeUrl ? result.redirectTo : redirect;
    if (next === null || next === undefined) return exchangeUrl ? undefined : showSessions();
    const target = new URL(next, location.origin);
    if (target.origin === location.origin) location.assign(target.href);
  },
});
`;

/** The whole page, for one request. */
export function renderLoginPage(options: LoginPageOptions): string {
  const locale = pickLocale(options.acceptLanguage, options.lang);
  const t = MESSAGES[locale];
  const other: Locale = locale === 'zh' ? 'en' : 'zh';
  const nonce = escapeHtml(options.nonce);
  if (options.wechatLogin !== undefined) return renderWechatLoginPage(options, locale);
  const sim = options.simulatorUrl
    ? `<p class="sim"><a href="${escapeHtml(options.simulatorUrl)}" target="_blank" rel="noopener" id="sim-link">${escapeHtml(t.simulator)}</a></p>`
    : '';
  const demoRp =
    options.demoRpUrl && !options.oidc
      ? `<p class="sim"><a href="${escapeHtml(options.demoRpUrl)}" id="demo-rp-link">${escapeHtml(t.demoRp)}</a></p>`
      : '';
  const forClient = options.oidc
    ? `<p class="intro" id="oidc-client">${escapeHtml(t.oidcFor.replace('{client}', options.oidc.clientId))}</p>`
    : '';
  const exchange = options.oidc ? ` data-exchange="${escapeHtml(options.oidc.exchangeUrl)}"` : '';
  const exposed =
    options.demoExposed === true ? `<p class="demo-exposed" role="alert" id="demo-exposed">${escapeHtml(DEMO_EXPOSED_WARNING)}</p>` : '';
  return `<!doctype html>
<html lang="${locale === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(t.title)}</title>
<link rel="icon" href="data:,">
<link rel="modulepreload" href="${CLIENT_BUNDLE_ROUTE}">
<style nonce="${nonce}">${PAGE_CSS}${QR_LOGIN_CSS}</style>
</head>
<body data-state="connecting">
<nav class="lang" aria-label="Language"><a id="lang-switch" href="?lang=${other}" data-lang="${other}" hreflang="${other === 'zh' ? 'zh-CN' : 'en'}" lang="${other === 'zh' ? 'zh-CN' : 'en'}">${escapeHtml(MESSAGES[locale].otherLanguage)}</a></nav>
${exposed}
<main>
  ${BRAND_SVG}
  <h1>${escapeHtml(t.title)}</h1>
  ${forClient}
  <p class="intro">${escapeHtml(t.intro)}</p>
  <div id="qrgate-login" data-locale="${locale}"${exchange}></div>
  <noscript><p>${escapeHtml(t.noscript)}</p></noscript>
  ${options.oidc ? '' : sessionsPanel(locale)}
  ${sim}
  ${demoRp}
</main>
<script type="module" nonce="${nonce}">${BOOTSTRAP}</script>
</body>
</html>`;
}

/** The signed-in page's sessions panel, hidden until the page signs in; its texts ride in data attributes. */
function sessionsPanel(locale: Locale): string {
  const t = MESSAGES[locale];
  const data = [
    ['this-device', t.thisDevice],
    ['sign-out', t.signOut],
    ['ended', t.sessionEnded],
    ['started', t.sessionStarted],
  ]
    .map(([name, value]) => ` data-${name}="${escapeHtml(value ?? '')}"`)
    .join('');
  return `<section id="sessions" hidden aria-labelledby="sessions-title"${data}>
    <h2 id="sessions-title">${escapeHtml(t.sessionsTitle)}</h2>
    <ul id="session-list"></ul>
    <button type="button" id="sign-out-everywhere">${escapeHtml(t.signOutEverywhere)}</button>
    <p id="session-notice" role="status"></p>
  </section>`;
}

/** Inside WeChat: no QR code (a phone cannot scan its own screen) and no socket, one link to the web authorization. */
function renderWechatLoginPage(options: LoginPageOptions, locale: Locale): string {
  const t = MESSAGES[locale];
  const nonce = escapeHtml(options.nonce);
  const href = options.wechatLogin?.href ?? '/auth/wechat';
  const forClient = options.oidc
    ? `<p class="intro" id="oidc-client">${escapeHtml(t.oidcFor.replace('{client}', options.oidc.clientId))}</p>`
    : '';
  const label = locale === 'zh' ? '微信一键登录' : 'Sign in with WeChat';
  return `<!doctype html>
<html lang="${locale === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(t.title)}</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${PAGE_CSS}
.wechat-login { display: block; padding: 14px 16px; border-radius: 12px; background: #07c160; color: #fff; font-weight: 600; text-decoration: none; }
</style>
</head>
<body data-state="wechat">
<main>
  ${BRAND_SVG}
  <h1>${escapeHtml(t.title)}</h1>
  ${forClient}
  <p><a id="wechat-login" class="wechat-login" href="${escapeHtml(href)}">${escapeHtml(label)}</a></p>
</main>
</body>
</html>`;
}
