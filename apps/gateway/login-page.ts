/**
 * The login page served at `/`: a QR code, a countdown, the state, and "signed in as …" after login.
 * Self-contained (inline script, the Socket.IO client served by the gateway itself).
 */

export interface LoginPageOptions {
  acceptLanguage?: string;
  /** `zh` or `en`, overriding Accept-Language. */
  lang?: string;
  /** Demo mode: link to the phone simulator. */
  simulatorUrl?: string;
}

const TEXT = {
  en: {
    title: 'Sign in with WeChat',
    intro: 'Scan the QR code with WeChat to sign in.',
    pending: 'Waiting for a scan…',
    scanned: 'Scanned — confirm on your phone.',
    confirmed: 'Confirmed — signing you in…',
    signedIn: 'Signed in as',
    cancelled: 'Sign-in was refused on the phone.',
    expired: 'The QR code has expired.',
    refresh: 'Get a new QR code',
    offline: 'Offline — reconnecting…',
    connecting: 'Connecting…',
    error: 'Something went wrong:',
    expiresIn: 'Expires in',
    seconds: 's',
    simulator: 'No WeChat at hand? Open the phone simulator',
    qrAlt: 'QR code to scan with WeChat',
    other: '中文',
  },
  zh: {
    title: '微信扫码登录',
    intro: '请使用微信扫描二维码登录。',
    pending: '等待扫码…',
    scanned: '已扫码，请在手机上确认。',
    confirmed: '已确认，正在登录…',
    signedIn: '已登录：',
    cancelled: '已在手机上拒绝登录。',
    expired: '二维码已过期。',
    refresh: '刷新二维码',
    offline: '网络已断开，正在重连…',
    connecting: '正在连接…',
    error: '出错了：',
    expiresIn: '剩余',
    seconds: '秒',
    simulator: '手边没有微信？打开手机模拟器',
    qrAlt: '用微信扫描的二维码',
    other: 'English',
  },
} as const;

export type Locale = keyof typeof TEXT;

/** `zh` when the browser prefers Chinese, else `en`. */
export function pickLocale(acceptLanguage: string | undefined, lang?: string): Locale {
  if (lang === 'zh' || lang === 'en') return lang;
  const first = (acceptLanguage ?? '').split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('zh') ? 'zh' : 'en';
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function renderLoginPage(options: LoginPageOptions): string {
  const locale = pickLocale(options.acceptLanguage, options.lang);
  const t = TEXT[locale];
  const other: Locale = locale === 'zh' ? 'en' : 'zh';
  const sim = options.simulatorUrl
    ? `<p class="sim"><a href="${escapeHtml(options.simulatorUrl)}" target="_blank" rel="noopener" id="sim-link">${t.simulator}</a></p>`
    : '';
  return `<!doctype html>
<html lang="${locale === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${t.title}</title>
<style>
  :root { color-scheme: light dark; --fg:#1d1d1f; --bg:#f5f5f7; --card:#fff; --accent:#07c160; --muted:#6e6e73; }
  @media (prefers-color-scheme: dark) { :root { --fg:#f5f5f7; --bg:#1d1d1f; --card:#2c2c2e; --muted:#a1a1a6; } }
  * { box-sizing: border-box; }
  body { margin:0; min-height:100vh; display:grid; place-items:center; font:16px/1.5 system-ui, -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif; color:var(--fg); background:var(--bg); }
  main { background:var(--card); border-radius:16px; padding:24px; width:min(360px, 100vw - 16px); text-align:center; box-shadow:0 4px 24px rgba(0,0,0,.08); }
  h1 { font-size:1.3rem; margin:0 0 4px; }
  .qr { position:relative; width:240px; height:240px; margin:16px auto; }
  .qr img { width:240px; height:240px; border-radius:8px; background:#fff; }
  .qr.dim img { opacity:.15; }
  .ring { position:absolute; inset:-8px; width:256px; height:256px; transform:rotate(-90deg); pointer-events:none; }
  .ring circle { fill:none; stroke:var(--accent); stroke-width:4; transition:stroke-dashoffset 1s linear; }
  #status { min-height:1.5em; font-weight:600; }
  #countdown { color:var(--muted); font-size:.9rem; min-height:1.4em; }
  button { font:inherit; background:var(--accent); color:#fff; border:0; border-radius:8px; padding:10px 16px; cursor:pointer; }
  button:focus-visible, a:focus-visible { outline:3px solid #0a84ff; outline-offset:2px; }
  a { color:var(--accent); }
  .lang { position:absolute; top:12px; right:12px; }
  [hidden] { display:none !important; }
</style>
</head>
<body>
<a class="lang" href="?lang=${other}" id="lang-switch">${t.other}</a>
<main>
  <h1>${t.title}</h1>
  <p>${t.intro}</p>
  <div class="qr" id="qr">
    <img id="qr-img" alt="${t.qrAlt}" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
    <svg class="ring" viewBox="0 0 256 256" aria-hidden="true"><circle id="ring" cx="128" cy="128" r="124"></circle></svg>
  </div>
  <p id="status" role="status" aria-live="polite" data-state="connecting">${t.connecting}</p>
  <p id="countdown"></p>
  <p><button type="button" id="refresh" hidden>${t.refresh}</button></p>
  ${sim}
</main>
<script src="/socket.io/socket.io.min.js"></script>
<script>
(() => {
  const T = ${JSON.stringify(t)};
  const $ = (id) => document.getElementById(id);
  const status = $('status'), countdown = $('countdown'), img = $('qr-img'), qr = $('qr'), refreshBtn = $('refresh'), ring = $('ring');
  const CIRC = 2 * Math.PI * 124;
  ring.style.strokeDasharray = String(CIRC);
  let current = null, timer = null, done = false, total = 1;
  const redirect = new URLSearchParams(location.search).get('redirect');
  function setState(state, text) { status.dataset.state = state; status.textContent = text; }
  function tick() {
    if (!current) return;
    const left = Math.max(0, Math.round((current.expiresAt - Date.now()) / 1000));
    countdown.textContent = left > 0 && !done ? T.expiresIn + ' ' + left + T.seconds : '';
    ring.style.strokeDashoffset = String(CIRC * (1 - left / total));
  }
  const socket = io('/login', {
    auth: (cb) => cb(current ? { ticket: current.ticket, secret: current.secret } : {}),
    transports: ['websocket', 'polling'],
  });
  socket.on('ticket', (p) => {
    current = p; done = false;
    total = Math.max(1, Math.round((p.expiresAt - Date.now()) / 1000));
    img.src = p.qrImage; qr.classList.remove('dim'); refreshBtn.hidden = true;
    clearInterval(timer); timer = setInterval(tick, 1000); tick();
  });
  socket.on('status', (p) => {
    if (!current || p.ticket !== current.ticket) return;
    if (p.status === 'pending') setState('pending', T.pending);
    if (p.status === 'scanned') setState('scanned', T.scanned);
    if (p.status === 'confirmed' && !done) setState('confirmed', T.confirmed);
    if (p.status === 'cancelled' || p.status === 'expired') {
      done = true; qr.classList.add('dim'); refreshBtn.hidden = false; tick();
      setState(p.status, p.status === 'expired' ? T.expired : T.cancelled);
      refreshBtn.focus();
    }
  });
  socket.on('login', async (p) => {
    if (!current || p.ticket !== current.ticket || done) return;
    done = true; tick();
    try {
      const res = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: p.code, secret: current.secret }) });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error || res.status);
      setState('signed-in', T.signedIn + ' ' + (p.user && p.user.nickname ? p.user.nickname : body.openid));
      document.body.dataset.openid = body.openid;
      socket.disconnect();
      if (redirect && redirect.startsWith('/') && !redirect.startsWith('//')) location.assign(redirect);
    } catch (e) { setState('error', T.error + ' ' + e.message); }
  });
  socket.on('connect_error', (err) => {
    const code = err && err.data && err.data.code;
    if (code === 'TICKET_NOT_FOUND' || code === 'TICKET_SECRET_MISMATCH') {
      if (done) return;
      current = null; socket.connect(); return;
    }
    setState(code ? 'error' : 'offline', code ? T.error + ' ' + err.message : T.offline);
  });
  socket.on('disconnect', (reason) => { if (!done && reason !== 'io client disconnect') setState('offline', T.offline); });
  refreshBtn.addEventListener('click', () => {
    refreshBtn.hidden = true; setState('connecting', T.connecting);
    if (!socket.connected) { current = null; socket.connect(); return; }
    socket.emit('refresh', (res) => { if (res && res.error) setState('error', T.error + ' ' + res.error.message); });
  });
})();
</script>
</body>
</html>`;
}
