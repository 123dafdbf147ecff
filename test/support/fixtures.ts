/**
 * The test fixtures every suite shares: one WeChat test account (the webhook, the simulator and the separate
 * processes all use it), the browsers' user agents and addresses. One place, so a test that needs "the AES
 * key" or "a Chrome on Windows" never grows a copy that drifts. The product's own demo account
 * (`DEMO_WECHAT`) is not a fixture: tests of the standalone demo use it as shipped.
 */

/** The test Official Account. */
export const APP_ID = 'wx0123456789abcdef';
export const APP_SECRET = 'test-app-secret-0123456789abcdef';
export const TOKEN = 'webhook-test-token';
/** Its original id: the `ToUserName` of pushes to it. */
export const OA_ID = 'gh_5e1c2a9f0b7d';
/** The commonly used sample EncodingAESKey (WECHAT.md §7.3). */
export const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
/** The key before a rotation (`WECHAT_AES_KEY_PREVIOUS`). */
export const PREVIOUS_AES_KEY = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut';

/** The test account as the environment variables of libs/config. */
export const TEST_ACCOUNT_ENV = {
  WECHAT_APPID: APP_ID,
  WECHAT_SECRET: APP_SECRET,
  WECHAT_TOKEN: TOKEN,
  WECHAT_AES_KEY: AES_KEY,
} as const;

export const CHROME_ON_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
export const CHROME_ON_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

/** A browser's address (TEST-NET-3, RFC 5737: never a real client). */
export const BROWSER_IP = '203.0.113.7';
