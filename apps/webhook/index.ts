/** The webhook app's public surface: the factory, its settings, and the types around them. */
export { createWebhook, REPLY_DEADLINE_MS, type WebhookDeps } from './webhook.js';
export { webhookSettings, DEFAULT_MAX_SKEW_SECONDS, type WebhookSettings } from './webhook-settings.js';
export { MAX_PUSH_BYTES, type PushOutcome } from './push-verification.js';
export type { ScanEventResult } from './scan-event.js';
