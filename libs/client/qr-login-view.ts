/**
 * Renders a {@link QrLoginState} into a container: the QR code framed by a countdown ring, a live status
 * line, the remaining seconds and a refresh button. DOM APIs only (no innerHTML, no style attributes), so it
 * works under a strict Content-Security-Policy.
 */
import { format, type Locale, type Messages } from './messages.js';
import type { QrLoginState } from './qr-login.js';
import { QR_LOGIN_CSS } from './qr-login-styles.js';

export interface QrLoginViewOptions {
  messages: Messages;
  locale: Locale;
  /** Insert the default stylesheet (once per document). */
  styles: boolean;
  /** CSP nonce for that stylesheet. */
  nonce?: string;
  /** The refresh button was pressed. */
  onRefresh(): void;
}

/** The rendered widget. */
export interface QrLoginView {
  update(state: QrLoginState): void;
  destroy(): void;
}

const SVG = 'http://www.w3.org/2000/svg';
const STYLE_ID = 'qrgate-styles';
/** Under this share of the lifetime the ring turns amber. */
const LOW_FRACTION = 0.2;

/** Build the widget inside `container` (its previous content is replaced). */
export function createQrLoginView(container: HTMLElement, options: QrLoginViewOptions): QrLoginView {
  const t = options.messages;
  if (options.styles && !document.getElementById(STYLE_ID)) {
    const style = document.createElement('style');
    style.id = STYLE_ID;
    if (options.nonce !== undefined) style.nonce = options.nonce;
    style.textContent = QR_LOGIN_CSS;
    document.head.append(style);
  }

  const root = el('div', 'qrgate');
  root.lang = options.locale === 'zh' ? 'zh-CN' : 'en';
  const code = el('div', 'qrgate-code');
  const img = el('img', 'qrgate-qr');
  img.alt = t.qrAlt;
  img.width = 232;
  img.height = 232;
  const ring = document.createElementNS(SVG, 'svg');
  ring.setAttribute('class', 'qrgate-ring');
  ring.setAttribute('viewBox', '0 0 100 100');
  ring.setAttribute('aria-hidden', 'true');
  const track = ringRect('qrgate-ring-track');
  const bar = ringRect('qrgate-ring-bar');
  bar.setAttribute('stroke-dasharray', '100');
  ring.append(track, bar);
  const badge = el('div', 'qrgate-badge');
  badge.setAttribute('aria-hidden', 'true');
  const button = el('button', 'qrgate-refresh');
  button.type = 'button';
  button.hidden = true;
  button.addEventListener('click', () => options.onRefresh());
  code.append(img, ring, badge, button);
  const status = el('p', 'qrgate-status');
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  // The seconds change every second: outside the live region so screen readers are not flooded.
  const countdown = el('p', 'qrgate-countdown');
  root.append(code, status, countdown);
  container.replaceChildren(root);

  let current: QrLoginState | undefined;
  /** Lifetime of the code on display as first seen, for the ring's proportion. */
  let lifetime = { ticket: '', totalMs: 1 };
  const timer = setInterval(tick, 500);

  function tick(): void {
    const s = current;
    const counting = s?.qr !== undefined && (s.state === 'pending' || s.state === 'scanned');
    if (!counting || s.qr === undefined) {
      setText(countdown, '');
      root.removeAttribute('data-low');
      return;
    }
    const leftMs = Math.max(0, s.qr.expiresAt - Date.now());
    const fraction = Math.min(1, leftMs / lifetime.totalMs);
    bar.setAttribute('stroke-dashoffset', String(100 * (1 - fraction)));
    root.toggleAttribute('data-low', fraction < LOW_FRACTION);
    setText(countdown, format(t.expiresIn, { seconds: Math.ceil(leftMs / 1000) }));
  }

  function update(state: QrLoginState): void {
    current = state;
    root.dataset.state = state.state;
    if (state.qr !== undefined) {
      if (img.getAttribute('src') !== state.qr.qrImage) img.src = state.qr.qrImage;
      // Public facts only (never the secret): lets a page or a test tell which code is shown.
      img.dataset.ticket = state.qr.ticket;
      img.dataset.qrUrl = state.qr.qrUrl;
      if (lifetime.ticket !== state.qr.ticket) {
        lifetime = { ticket: state.qr.ticket, totalMs: Math.max(1000, state.qr.expiresAt - Date.now()) };
      }
    }
    setText(status, statusText(state, t));
    renderBadge(state);
    const actionable = state.state === 'expired' || state.state === 'cancelled' || state.state === 'error';
    button.hidden = !actionable;
    setText(button, state.state === 'error' ? t.retry : t.refresh);
    tick();
  }

  function renderBadge(state: QrLoginState): void {
    const wanted = badgeFor(state);
    if (badge.dataset.kind === wanted) return;
    badge.dataset.kind = wanted;
    if (wanted === 'spinner') badge.replaceChildren(el('div', 'qrgate-spinner'));
    else if (wanted === 'avatar' && state.session?.user.avatar) {
      const avatar = el('img', 'qrgate-avatar');
      avatar.alt = '';
      avatar.src = state.session.user.avatar;
      badge.replaceChildren(avatar);
    } else badge.replaceChildren(wanted === 'check' || wanted === 'avatar' ? '✓' : '');
  }

  return {
    update,
    destroy() {
      clearInterval(timer);
      root.remove();
    },
  };
}

function statusText(state: QrLoginState, t: Messages): string {
  switch (state.state) {
    case 'signed-in': {
      const user = state.session?.user;
      return format(t.signedIn, { name: user?.nickname || state.session?.openid || '' });
    }
    case 'expired':
      return state.needsAction ? t.expiredIdle : t.expired;
    case 'error':
      return format(t.error, { message: state.error?.message ?? '' });
    default:
      return t[state.state];
  }
}

function badgeFor(state: QrLoginState): string {
  switch (state.state) {
    case 'connecting':
    case 'offline':
    case 'confirmed':
      return 'spinner';
    case 'scanned':
      return 'check';
    case 'signed-in':
      return state.session?.user.avatar ? 'avatar' : 'check';
    default:
      return 'none';
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function ringRect(className: string): SVGRectElement {
  const rect = document.createElementNS(SVG, 'rect');
  rect.setAttribute('class', className);
  for (const [k, v] of Object.entries({ x: '0.7', y: '0.7', width: '98.6', height: '98.6', rx: '5.5', pathLength: '100' })) {
    rect.setAttribute(k, v);
  }
  return rect;
}

/** Assign only on change, so the live region does not re-announce the same sentence. */
function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}
