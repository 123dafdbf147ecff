/** The login library's public surface: the use cases, the doorbell policy, the login counter, delivery marks. */
export {
  createLoginService,
  type DecideInput,
  type DecideOutcome,
  type ExpireOutcome,
  type IssueInput,
  type IssueOutcome,
  type LoginService,
  type LoginServiceDeps,
  type RedeemInput,
  type RedeemOutcome,
  type ScanInput,
  type ScanOutcome,
} from './login-service.js';
export { createDoorbell, RING_ATTEMPTS, RING_BACKOFF_MS, type Doorbell } from './doorbell.js';
export { createLoginCounter, LOGIN_COUNT_TTL_MS, type LoginCounter } from './login-counter.js';
export {
  DELIVERY_DONE_TTL_MS,
  DELIVERY_LEASE_MS,
  DeliveryBusyError,
  handleDelivery,
  type DeliveryClaimed,
  type DeliveryMarkOptions,
  type DeliveryResult,
} from './delivery-marks.js';
export { describeBrowser, displayIp, formatShanghaiTime, type BrowserDescription } from './requester.js';
export {
  createSessionBook,
  sessionOfTicket,
  type BeginSessionInput,
  type SessionBook,
  type SessionEndReason,
  type SessionMethod,
  type SessionRecord,
} from './session-book.js';
export { PHONE_LINK_TTL_MS, PHONE_SESSIONS_PATH, createPhoneLinks, phoneLinkUrl, type PhoneLinks } from './phone-link.js';
