/**
 * Every text the login widget and the login page show, in English and Simplified Chinese. Plain data with no
 * imports, so the gateway can render the same words server-side without pulling in the browser client.
 */

/** The texts of one language. `{name}` and `{seconds}` are replaced at run time. */
export interface Messages {
  title: string;
  intro: string;
  connecting: string;
  pending: string;
  scanned: string;
  confirmed: string;
  signedIn: string;
  cancelled: string;
  expired: string;
  /** Shown with `expired` once automatic refreshes stopped (hidden tab or too many in a row). */
  expiredIdle: string;
  offline: string;
  error: string;
  refresh: string;
  retry: string;
  expiresIn: string;
  qrAlt: string;
  simulator: string;
  /** The login page's link to the demo relying party (demo mode only). */
  demoRp: string;
  /** The login step of an OpenID Connect sign-in: `{client}` is the client_id of the site asking. */
  oidcFor: string;
  noscript: string;
  /** The signed-in page's list of the user's sessions (issue 12). */
  sessionsTitle: string;
  /** Marks the session of this page in the list. */
  thisDevice: string;
  signOut: string;
  signOutEverywhere: string;
  /** This page's session ended (signed out here or elsewhere). */
  sessionEnded: string;
  /** `{browser}` signed in to the same account elsewhere. */
  sessionStarted: string;
  /** Name of the other language, for the switch. */
  otherLanguage: string;
}

/** Languages the widget speaks. */
export type Locale = 'en' | 'zh';

/** The built-in texts. */
export const MESSAGES: Readonly<Record<Locale, Messages>> = {
  en: {
    title: 'Sign in with WeChat',
    intro: 'Open WeChat, tap + → Scan, and point your camera at the code.',
    connecting: 'Getting a QR code…',
    pending: 'Waiting for you to scan…',
    scanned: 'Scanned — confirm on your phone.',
    confirmed: 'Confirmed — signing you in…',
    signedIn: 'Signed in as {name}',
    cancelled: 'Sign-in was declined on the phone.',
    expired: 'The QR code has expired.',
    expiredIdle: 'The QR code has expired. Click to get a new one.',
    offline: 'Offline — reconnecting…',
    error: 'Something went wrong: {message}',
    refresh: 'Get a new QR code',
    retry: 'Try again',
    expiresIn: 'Expires in {seconds} s',
    qrAlt: 'QR code to scan with WeChat',
    simulator: 'No WeChat at hand? Open the phone simulator',
    demoRp: 'See a sample site sign in through OpenID Connect',
    oidcFor: 'to continue to {client}',
    noscript: 'JavaScript is needed to show the QR code.',
    sessionsTitle: 'Where you are signed in',
    thisDevice: 'this browser',
    signOut: 'Sign out',
    signOutEverywhere: 'Sign out everywhere',
    sessionEnded: 'You were signed out of this browser.',
    sessionStarted: 'New sign-in: {browser}',
    otherLanguage: '中文',
  },
  zh: {
    title: '微信扫码登录',
    intro: '打开微信，点击右上角 + →「扫一扫」，扫描下方二维码。',
    connecting: '正在获取二维码…',
    pending: '等待扫码…',
    scanned: '扫码成功，请在手机上确认。',
    confirmed: '已确认，正在登录…',
    signedIn: '已登录：{name}',
    cancelled: '你已在手机上取消登录。',
    expired: '二维码已过期。',
    expiredIdle: '二维码已过期，请点击刷新。',
    offline: '网络已断开，正在重新连接…',
    error: '出错了：{message}',
    refresh: '刷新二维码',
    retry: '重试',
    expiresIn: '{seconds} 秒后过期',
    qrAlt: '请用微信扫描的登录二维码',
    simulator: '手边没有微信？打开手机模拟器',
    demoRp: '看一个示例网站如何通过 OpenID Connect 登录',
    oidcFor: '以继续访问 {client}',
    noscript: '需要启用 JavaScript 才能显示二维码。',
    sessionsTitle: '已登录的设备',
    thisDevice: '当前浏览器',
    signOut: '退出',
    signOutEverywhere: '退出所有设备',
    sessionEnded: '此浏览器已退出登录。',
    sessionStarted: '新的登录：{browser}',
    otherLanguage: 'English',
  },
};

/**
 * `zh` when `lang` says so or the browser's first preferred language is Chinese, else `en`.
 * @param acceptLanguage an `Accept-Language` header or `navigator.language`.
 * @param lang an explicit choice (`?lang=`), which wins when it names a known locale.
 */
export function pickLocale(acceptLanguage: string | undefined, lang?: string): Locale {
  if (lang === 'zh' || lang === 'en') return lang;
  const first = (acceptLanguage ?? '').split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('zh') ? 'zh' : 'en';
}

/** Replace `{key}` placeholders. */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in values ? String(values[key]) : whole));
}
