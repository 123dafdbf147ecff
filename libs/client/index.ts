/**
 * qrgate's browser client: `createQrLogin()` shows a WeChat login QR code from a qrgate gateway and hands
 * back a session once the phone confirms. Bundled to `dist/client/qrgate.js`, served at `/client/qrgate.js`,
 * and published as the `@qrgate/client` package (libs/client/package.json; API in libs/client/README.md).
 * This file is the package's whole public surface.
 */
export {
  createQrLogin,
  type QrCodeView,
  type QrLoginErrorCode,
  type QrLoginHandle,
  type QrLoginOptions,
  type QrLoginResult,
  type QrLoginState,
  type QrLoginStateName,
} from './qr-login.js';
export {
  SessionApiError,
  listSessions,
  signOut,
  signOutEverywhere,
  watchSession,
  type SessionClientOptions,
  type SessionEndedPayload,
  type SessionStartedPayload,
  type SessionSummary,
  type SessionWatch,
  type SessionWatchOptions,
} from './session-watch.js';
export { AutoRefreshBudget, DEFAULT_MAX_AUTO_REFRESHES, type AutoRefreshDecision } from './auto-refresh.js';
export { MESSAGES, pickLocale, type Locale, type Messages } from './messages.js';
export type { ErrorCode, LoginUser } from '../protocol/events.js';
