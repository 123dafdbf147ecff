/**
 * The simulator's phone: pick a fake user, see live QR codes, "scan" one and read the reply WeChat would
 * show, open its link as WeChat's in-app browser would, or open the site itself in WeChat (signed in to the
 * simulated WeChat app as the picked user) to try the one-tap sign-in. Plain HTML and inline script, no
 * external assets.
 */
import { escapeHtml } from '../../libs/http/index.js';
import { WECHAT_IN_APP_UA } from './sim-in-app-browser.js';

export interface PhonePageOptions {
  /** What "Open the site in WeChat" opens at first (the gateway's login page); the user may edit it. */
  siteUrl: string;
  /** The demo is reachable from the network: a banner says so. */
  exposed?: boolean;
}

/**
 * The page's CSP: its own inline style and script (by nonce), calls to its own API, QR images from its own
 * `/cgi-bin/showqrcode`, and the in-app browser frame, which opens whatever link the reply carried.
 */
export function phonePageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self'",
    "connect-src 'self'",
    'frame-src http: https:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** The phone page's banner when the demo is reachable from the network. */
export const SIM_EXPOSED_WARNING =
  'Warning: this demo is reachable from the network. Anyone who opens this page can log in as any user. 警告：演示模式可从网络访问。';

/** The page, with the fake users embedded; its inline `<style>` and `<script>` carry `nonce`. */
export function renderPhonePage(users: ReadonlyArray<{ openid: string; name: string }>, nonce: string, options: PhonePageOptions): string {
  // `<` is escaped so that no user name can close the script element.
  const usersJson = JSON.stringify(users).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>WeChat simulator – phone</title>
<style nonce="${nonce}">
  :root { --green: #07c160; --bg: #ededed; --fg: #111; --muted: #666; }
  * { box-sizing: border-box; }
  .demo-exposed { margin: 0; padding: 12px 16px; background: #b00020; color: #fff; font-weight: 700; text-align: center; }
  body { margin: 0; font: 16px/1.4 system-ui, -apple-system, "PingFang SC", sans-serif; background: var(--bg); color: var(--fg); }
  header { background: #f7f7f7; border-bottom: 1px solid #ddd; padding: 12px 16px; font-weight: 600; text-align: center; }
  main { max-width: 480px; margin: 0 auto; padding: 12px; }
  section { background: #fff; border-radius: 8px; padding: 12px; margin-bottom: 12px; }
  h2 { font-size: 14px; color: var(--muted); margin: 0 0 8px; font-weight: 500; }
  .users { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
  .user { border: 1px solid #ddd; border-radius: 6px; padding: 8px; background: #fff; text-align: left; font: inherit; cursor: pointer; }
  .user[aria-pressed="true"] { border-color: var(--green); box-shadow: 0 0 0 2px var(--green) inset; }
  .user small { display: block; color: var(--muted); }
  .row { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-top: 8px; }
  button.action { background: var(--green); color: #fff; border: 0; border-radius: 6px; padding: 10px 14px; font: inherit; cursor: pointer; min-height: 44px; }
  button.secondary { background: #f2f2f2; color: var(--fg); }
  ul { list-style: none; margin: 0; padding: 0; }
  li.code { display: flex; gap: 12px; align-items: center; padding: 8px 0; border-top: 1px solid #eee; }
  li.code:first-child { border-top: 0; }
  li.code img { width: 72px; height: 72px; image-rendering: pixelated; background: #fff; border: 1px solid #eee; }
  .meta { flex: 1; min-width: 0; }
  .meta code { display: block; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-size: 13px; }
  .meta small { color: var(--muted); }
  .bubble { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 10px 12px; white-space: pre-wrap; word-break: break-word; }
  .empty { color: var(--muted); }
  .browser { position: fixed; inset: 0; background: #fff; display: none; flex-direction: column; }
  .browser.open { display: flex; }
  .browser header { display: flex; gap: 8px; align-items: center; text-align: left; }
  .browser header span { flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; font-weight: 400; font-size: 14px; }
  .browser iframe { flex: 1; border: 0; width: 100%; }
  .site input[type="url"] { flex: 1; min-width: 12em; font: inherit; padding: 8px; border: 1px solid #ddd; border-radius: 6px; }
  .note { color: var(--muted); font-size: 14px; margin: 8px 0 0; }
  .note input { width: 100%; font: 12px ui-monospace, monospace; margin-top: 4px; }
  .error { color: #c0392b; font-size: 14px; margin: 8px 0 0; }
</style>
</head>
<body>${options.exposed === true ? `<p id="demo-exposed" class="demo-exposed" role="alert">${SIM_EXPOSED_WARNING}</p>` : ''}
<header>WeChat · simulator</header>
<main>
  <section aria-labelledby="who">
    <h2 id="who">You are</h2>
    <div class="users" id="users"></div>
    <div class="row">
      <label>Push mode
        <select id="mode">
          <option value="">account default</option>
          <option value="plain">plaintext</option>
          <option value="aes">encrypted (safe mode)</option>
        </select>
      </label>
      <button class="action secondary" id="unfollow" type="button">Unfollow</button>
    </div>
  </section>
  <section aria-labelledby="codes-title">
    <h2 id="codes-title">QR codes on screen</h2>
    <ul id="codes"><li class="empty">No live QR codes. Open the login page first.</li></ul>
  </section>
  <section aria-labelledby="site-title" class="site">
    <h2 id="site-title">Open the site in WeChat</h2>
    <p class="note">WeChat's in-app browser, signed in to WeChat as the user above: inside WeChat the site offers its one-tap sign-in instead of a QR code.</p>
    <div class="row">
      <input id="site-url" type="url" aria-label="Site address" value="${escapeHtml(options.siteUrl)}">
      <label><input id="snapshot" type="checkbox"> snapshot page mode</label>
    </div>
    <div class="row"><button class="action" id="open-site" type="button">Open the site in WeChat</button></div>
    <p class="error" id="site-error" role="alert"></p>
    <p class="note" id="ua-note" hidden>This browser does not present WeChat's User-Agent, so the site will show its QR code. To try the one-tap sign-in, give this browser WeChat's User-Agent (Chrome DevTools: More tools, Network conditions, User agent) and reload this page:
      <input id="wechat-ua" readonly aria-label="WeChat's User-Agent" value="${escapeHtml(WECHAT_IN_APP_UA)}"></p>
  </section>
  <section aria-labelledby="chat-title" aria-live="polite">
    <h2 id="chat-title">Official Account chat</h2>
    <div id="chat" class="empty">Scan a code to see the reply.</div>
  </section>
</main>
<div class="browser" id="browser" role="dialog" aria-label="In-app browser">
  <header><button class="action secondary" id="close" type="button">Close</button><span id="browser-url"></span><a id="newtab" target="_blank" rel="noopener">New tab</a></header>
  <iframe id="frame" title="In-app browser"></iframe>
</div>
<script nonce="${nonce}">
(() => {
  const USERS = ${usersJson};
  let current = localStorage.getItem('sim-openid') || USERS[0].openid;
  let following = {};
  let shown = '';
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, children) => {
    const node = Object.assign(document.createElement(tag), props || {});
    for (const child of children || []) node.append(child);
    return node;
  };
  const api = async (path, body) => {
    const res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const data = await res.json();
    if (!res.ok) throw new Error(data.error || ('HTTP ' + res.status));
    return data;
  };
  function renderUsers() {
    $('users').replaceChildren(...USERS.map((u) => {
      const b = el('button', { className: 'user', type: 'button' }, [u.name, el('small', { textContent: following[u.openid] ? 'follows the account' : 'not following' })]);
      b.setAttribute('aria-pressed', String(u.openid === current));
      b.onclick = () => { current = u.openid; localStorage.setItem('sim-openid', current); renderUsers(); };
      return b;
    }));
  }
  async function refreshUsers() {
    const list = await api('/sim/api/users');
    following = Object.fromEntries(list.map((u) => [u.openid, u.following]));
    renderUsers();
  }
  function timeLeft(expiresAt) {
    if (expiresAt === null) return 'permanent';
    const s = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    return s >= 60 ? Math.floor(s / 60) + ' min ' + (s % 60) + ' s left' : s + ' s left';
  }
  async function refreshCodes() {
    let codes;
    try { codes = await api('/sim/api/codes'); } catch { return; }
    const key = codes.map((c) => c.qrTicket).join('|');
    if (key !== shown) {
      shown = key;
      $('codes').replaceChildren(...(codes.length === 0
        ? [el('li', { className: 'empty', textContent: 'No live QR codes. Open the login page first.' })]
        : codes.map((c) => {
            const scan = el('button', { className: 'action', type: 'button', textContent: 'Scan' });
            scan.onclick = () => doScan(c.qrTicket, scan);
            return el('li', { className: 'code' }, [
              el('img', { src: '/cgi-bin/showqrcode?ticket=' + encodeURIComponent(c.qrTicket), alt: 'QR code ' + c.scene }),
              el('div', { className: 'meta' }, [el('code', { textContent: c.scene }), el('small', { className: 'left', textContent: timeLeft(c.expiresAt) })]),
              scan,
            ]);
          })));
      $('codes').dataset.expires = JSON.stringify(codes.map((c) => c.expiresAt));
    } else {
      const expires = JSON.parse($('codes').dataset.expires || '[]');
      $('codes').querySelectorAll('small.left').forEach((node, i) => { node.textContent = timeLeft(expires[i] ?? null); });
    }
  }
  function showReply(result) {
    const link = result.reply && result.reply.match(/https?:\\/\\/[^\\s<>"']+/);
    const parts = [el('small', { textContent: result.event + ' pushed, ' + result.attempts + ' attempt(s), HTTP ' + result.status })];
    if (!result.delivered) parts.push(el('div', { className: 'bubble', textContent: '该公众号暂时无法提供服务，请稍后再试 (the webhook did not answer' + (result.deliveryError ? ': ' + result.deliveryError : '') + ')' }));
    else if (result.replyError) parts.push(el('div', { className: 'bubble', textContent: 'Unreadable reply: ' + result.replyError }));
    else if (result.reply === null) parts.push(el('div', { className: 'empty', textContent: '(no reply message)' }));
    else parts.push(el('div', { className: 'bubble', textContent: result.reply }));
    if (link) {
      const open = el('button', { className: 'action', type: 'button', textContent: 'Open link' });
      open.onclick = () => openBrowser(link[0]);
      parts.push(el('div', { className: 'row' }, [open]));
    }
    $('chat').className = '';
    $('chat').replaceChildren(...parts);
  }
  function openBrowser(url) {
    $('frame').src = url;
    $('browser-url').textContent = url;
    $('newtab').href = url;
    $('browser').classList.add('open');
  }
  $('close').onclick = () => { $('browser').classList.remove('open'); $('frame').src = 'about:blank'; };
  async function doScan(qrTicket, button) {
    button.disabled = true;
    $('chat').className = 'empty';
    $('chat').textContent = 'Waiting for the Official Account…';
    const mode = $('mode').value;
    try {
      const body = { qrTicket, openid: current };
      if (mode !== '') body.encrypt = mode === 'aes';
      showReply(await api('/sim/api/scan', body));
    } catch (err) {
      $('chat').textContent = 'Scan failed: ' + err.message;
    } finally {
      button.disabled = false;
      refreshUsers();
    }
  }
  // Open the site as WeChat's in-app browser would: WeChat's user is the one picked (its web authorization
  // signs that user in), and the site sees WeChat's User-Agent when this browser presents one.
  if (!/MicroMessenger/i.test(navigator.userAgent)) $('ua-note').hidden = false;
  const savedSite = localStorage.getItem('sim-site');
  if (savedSite) $('site-url').value = savedSite;
  $('open-site').onclick = async () => {
    $('site-error').textContent = '';
    let site;
    try { site = new URL($('site-url').value); } catch { site = null; }
    if (site === null || !/^https?:$/.test(site.protocol)) { $('site-error').textContent = 'Give the site as an http(s) address, such as ' + $('site-url').defaultValue; return; }
    try {
      await api('/sim/api/oauth', { openid: current, snapshot: $('snapshot').checked });
    } catch (err) {
      $('site-error').textContent = 'Could not sign in to WeChat: ' + err.message;
      return;
    }
    localStorage.setItem('sim-site', site.href);
    const opened = window.open(site.href, '_blank');
    if (opened === null) location.assign(site.href);
    else opened.opener = null;
  };
  $('unfollow').onclick = async () => {
    try { await api('/sim/api/unfollow', { openid: current }); } catch (err) { $('chat').textContent = err.message; }
    refreshUsers();
  };
  renderUsers();
  refreshUsers();
  refreshCodes();
  setInterval(refreshCodes, 1000);
})();
</script>
</body>
</html>
`;
}
