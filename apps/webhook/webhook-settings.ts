/**
 * What the webhook needs to know, derived once from the process configuration.
 */
import { resolveWebhookRole, type Config, type ConfirmationLinkConfig, type RoleOptions } from '../../libs/config/index.js';
import type { ConfirmationMode } from '../../libs/ticket/index.js';
import { loadReplyTexts, type ReplyTexts } from './reply-texts.js';

/** Settings of one webhook instance. */
export interface WebhookSettings {
  /** The Token configured for the server URL; signs every push (WECHAT.md §4). */
  token: string;
  /** The Official Account's AppID; a decrypted push must name it (WECHAT.md §7.3). */
  appId: string;
  /** Current 43-character EncodingAESKey. Unset: safe-mode pushes are refused. */
  aesKey?: string;
  /** The EncodingAESKey before the last rotation, tried when the current one fails (WECHAT.md §7.5). */
  aesKeyPrevious?: string;
  /** Refuse plaintext pushes. Default false. */
  requireEncryption: boolean;
  /** Accepted distance of a push's `timestamp` from our clock, seconds. Default 300 (WECHAT.md §4.3). */
  maxSkewSeconds: number;
  /** `scan` logs the browser in at once; `tap` waits for the scanner to confirm. */
  confirmation: ConfirmationMode;
  /** Externally reachable origin of the gateway, for links in replies. */
  publicUrl?: string;
  /**
   * `tap` mode: how to sign the one-time confirmation link put in the reply (SESSION_SECRET, PUBLIC_URL).
   * Unset: the reply asks the scanner to confirm without a link.
   */
  confirmationLinks?: ConfirmationLinkConfig;
  /** The account's own texts for the scanner's replies (REPLY_TEXTS_FILE). Unset: the built-in texts. */
  replyTexts?: ReplyTexts;
  /** WECHAT_FORWARD_URL: where pushes that are not login scans go (the account's existing backend). Unset: `success`. */
  forwardUrl?: string;
}

/** Default accepted clock skew of push timestamps, seconds. */
export const DEFAULT_MAX_SKEW_SECONDS = 300;

/**
 * The webhook's settings from the configuration. Throws one ConfigError naming every problem
 * (`resolveWebhookRole`): WECHAT_TOKEN / WECHAT_APPID missing, SESSION_SECRET / PUBLIC_URL in `tap` mode, Redis
 * outside one process. A REPLY_TEXTS_FILE that cannot be read or has a bad entry throws its own ConfigError.
 */
export function webhookSettings(config: Config, options: RoleOptions = {}): WebhookSettings {
  const role = resolveWebhookRole(config, options);
  const { confirmation } = role;
  return {
    token: role.token,
    appId: role.appId,
    ...(config.WECHAT_AES_KEY !== undefined ? { aesKey: config.WECHAT_AES_KEY } : {}),
    ...(config.WECHAT_AES_KEY_PREVIOUS !== undefined ? { aesKeyPrevious: config.WECHAT_AES_KEY_PREVIOUS } : {}),
    requireEncryption: config.WECHAT_REQUIRE_ENCRYPTION,
    maxSkewSeconds: config.WEBHOOK_MAX_SKEW_SECONDS ?? DEFAULT_MAX_SKEW_SECONDS,
    confirmation: confirmation.mode,
    ...(config.PUBLIC_URL !== undefined ? { publicUrl: config.PUBLIC_URL } : {}),
    ...(confirmation.mode === 'tap' ? { confirmationLinks: { secret: confirmation.secret, publicUrl: confirmation.publicUrl } } : {}),
    ...(config.WECHAT_FORWARD_URL !== undefined ? { forwardUrl: config.WECHAT_FORWARD_URL } : {}),
    ...(config.REPLY_TEXTS_FILE !== undefined ? { replyTexts: loadReplyTexts(config.REPLY_TEXTS_FILE) } : {}),
  };
}
