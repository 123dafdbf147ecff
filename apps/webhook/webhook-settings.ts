/**
 * What the webhook needs to know, derived once from the process configuration.
 */
import {
  ConfigError,
  confirmationLinkConfig,
  wechatCredentials,
  type Config,
  type ConfirmationLinkConfig,
} from '../../libs/config/index.js';
import type { ConfirmationMode } from '../../libs/ticket/index.js';

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
}

/** Default accepted clock skew of push timestamps, seconds. */
export const DEFAULT_MAX_SKEW_SECONDS = 300;

/**
 * The webhook's settings from the configuration. Throws ConfigError naming WECHAT_TOKEN / WECHAT_APPID when
 * they are missing, and SESSION_SECRET / PUBLIC_URL when `tap` mode lacks them; the AppSecret is not needed here (the webhook never calls WeChat's API).
 */
export function webhookSettings(config: Config): WebhookSettings {
  const credentials = wechatCredentials(config);
  const missing = credentials.ok ? [] : credentials.missing.filter((name) => name !== 'WECHAT_SECRET');
  const token = config.WECHAT_TOKEN;
  const appId = config.WECHAT_APPID;
  if (missing.length > 0 || token === undefined || appId === undefined) {
    throw new ConfigError(missing.map((name) => `${name}: required by the webhook`));
  }
  if (config.WECHAT_REQUIRE_ENCRYPTION && config.WECHAT_AES_KEY === undefined) {
    // Every push would be refused: fail at start-up instead of at the first scan.
    throw new ConfigError(['WECHAT_REQUIRE_ENCRYPTION: needs WECHAT_AES_KEY (the 43-character EncodingAESKey)']);
  }
  // Throws a ConfigError naming SESSION_SECRET and PUBLIC_URL in tap mode without them.
  const links = confirmationLinkConfig(config);
  return {
    token,
    appId,
    ...(config.WECHAT_AES_KEY !== undefined ? { aesKey: config.WECHAT_AES_KEY } : {}),
    ...(config.WECHAT_AES_KEY_PREVIOUS !== undefined ? { aesKeyPrevious: config.WECHAT_AES_KEY_PREVIOUS } : {}),
    requireEncryption: config.WECHAT_REQUIRE_ENCRYPTION,
    maxSkewSeconds: config.WEBHOOK_MAX_SKEW_SECONDS ?? DEFAULT_MAX_SKEW_SECONDS,
    confirmation: config.LOGIN_CONFIRMATION,
    ...(config.PUBLIC_URL !== undefined ? { publicUrl: config.PUBLIC_URL } : {}),
    ...(links !== null ? { confirmationLinks: links } : {}),
  };
}
