/**
 * The widget's default stylesheet. A string with no imports so the gateway's login page can inline the very
 * same rules under its CSP nonce. Colours are custom properties an embedding page may override; the green
 * is darkened from WeChat's #07c160 so white text on it meets WCAG AA contrast.
 */
export const QR_LOGIN_CSS = `
.qrgate {
  --qrgate-fg: #1d1d1f; --qrgate-muted: #5f5f64; --qrgate-accent: #067a3c; --qrgate-track: #e3e3e8;
  --qrgate-warn: #b45309; --qrgate-surface: #ffffff; --qrgate-focus: #0a64d6;
  color: var(--qrgate-fg); text-align: center; font: inherit;
}
@media (prefers-color-scheme: dark) {
  .qrgate {
    --qrgate-fg: #f5f5f7; --qrgate-muted: #b4b4ba; --qrgate-accent: #3ddc84; --qrgate-track: #3a3a3c;
    --qrgate-warn: #fbbf24; --qrgate-surface: #2c2c2e; --qrgate-focus: #64a8ff;
  }
}
.qrgate-code { position: relative; width: min(232px, 100%); aspect-ratio: 1; margin: 0 auto; }
.qrgate-qr {
  display: block; width: 100%; height: 100%; padding: 10px; box-sizing: border-box; border-radius: 14px;
  background: #fff; transition: opacity .25s, filter .25s;
}
.qrgate-qr:not([src]) { visibility: hidden; }
.qrgate-ring { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; overflow: visible; }
/* Uniform scaling (the box is square): non-scaling strokes would break pathLength-based dashes in Chromium. */
.qrgate-ring rect { fill: none; stroke-width: 1.4; }
.qrgate-ring .qrgate-ring-track { stroke: var(--qrgate-track); }
.qrgate-ring .qrgate-ring-bar { stroke: var(--qrgate-accent); stroke-linecap: round; transition: stroke-dashoffset .5s linear; }
.qrgate[data-low] .qrgate-ring-bar { stroke: var(--qrgate-warn); }
.qrgate:not([data-state="pending"]):not([data-state="scanned"]) .qrgate-ring-bar { stroke: transparent; }
.qrgate[data-state="scanned"] .qrgate-qr,
.qrgate[data-state="confirmed"] .qrgate-qr,
.qrgate[data-state="signed-in"] .qrgate-qr,
.qrgate[data-state="expired"] .qrgate-qr,
.qrgate[data-state="cancelled"] .qrgate-qr,
.qrgate[data-state="offline"] .qrgate-qr,
.qrgate[data-state="error"] .qrgate-qr { opacity: .12; filter: blur(1px); }
.qrgate-badge {
  position: absolute; inset: 0; display: grid; place-items: center; font-size: 56px; line-height: 1;
  color: var(--qrgate-accent); pointer-events: none;
}
.qrgate-badge:empty { display: none; }
.qrgate-spinner {
  width: 36px; height: 36px; border-radius: 50%; border: 4px solid var(--qrgate-track);
  border-top-color: var(--qrgate-accent); animation: qrgate-spin 1s linear infinite;
}
@keyframes qrgate-spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) {
  .qrgate-spinner { animation: none; }
  .qrgate-ring .qrgate-ring-bar, .qrgate-qr { transition: none; }
}
.qrgate-refresh {
  position: absolute; left: 50%; top: 50%; transform: translate(-50%, -50%); width: max-content; max-width: 90%;
  font: inherit; font-weight: 600; color: #fff; background: var(--qrgate-accent); border: 0; border-radius: 999px;
  padding: 10px 18px; cursor: pointer; box-shadow: 0 2px 10px rgba(0, 0, 0, .18);
}
@media (prefers-color-scheme: dark) { .qrgate-refresh { color: #0b1f12; } }
.qrgate-refresh:hover { filter: brightness(1.08); }
.qrgate-refresh:focus-visible { outline: 3px solid var(--qrgate-focus); outline-offset: 3px; }
.qrgate-refresh[hidden] { display: none; }
.qrgate-status { margin: 16px 0 4px; min-height: 1.5em; font-weight: 600; overflow-wrap: anywhere; }
.qrgate[data-state="error"] .qrgate-status, .qrgate[data-state="cancelled"] .qrgate-status { color: var(--qrgate-warn); }
.qrgate-countdown { margin: 0; min-height: 1.4em; color: var(--qrgate-muted); font-size: .9em; font-variant-numeric: tabular-nums; }
.qrgate-avatar { width: 64px; height: 64px; border-radius: 50%; }
`;
