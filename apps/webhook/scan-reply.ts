/**
 * The text a scanner reads in WeChat after scanning a login QR code. Pure functions, so the confirmation flow
 * (`tap` mode) can extend them without touching the webhook.
 *
 * Everything about the browser comes from the browser itself: it is shown only through the sanitising
 * helpers of `libs/login/requester.ts`. Each function takes the account's own texts (`reply-texts.ts`,
 * REPLY_TEXTS_FILE); a kind it did not write keeps the built-in text below.
 */
import { describeBrowser, displayIp, formatShanghaiTime } from '../../libs/login/index.js';
import type { BrowserContext, TicketStatus } from '../../libs/ticket/index.js';
import { renderReply, type Placeholder, type ReplyTexts } from './reply-texts.js';

/** What the scanner is told about the browser asking to log in. */
export interface LoginAttempt {
  browser: BrowserContext;
  /** When the scan was handled, epoch ms. */
  at: number;
}

function attemptLines(attempt: LoginAttempt): string[] {
  const { browser, os } = describeBrowser(attempt.browser.userAgent);
  return [`浏览器：${browser}（${os}）`, `IP：${displayIp(attempt.browser.ip)}`, `时间：${formatShanghaiTime(attempt.at)}`];
}

/** The placeholders every kind that describes the browser can use. */
function attemptValues(attempt: LoginAttempt): Record<Exclude<Placeholder, 'count' | 'link'>, string> {
  const { browser, os } = describeBrowser(attempt.browser.userAgent);
  return { browser, os, ip: displayIp(attempt.browser.ip), time: formatShanghaiTime(attempt.at) };
}

const NOT_YOU = '如果这不是你本人的操作：请不要进行任何其他操作，并尽快联系网站撤销这次登录的会话。';

/**
 * `scan` mode: the browser is now logged in; `loginCount` is this WeChat user's Nth login (unset: not known).
 * `sessionsUrl`: the link to the page of the user's signed-in browsers, where they can sign this one out.
 */
export function loginReplyText(attempt: LoginAttempt & { loginCount?: number; sessionsUrl?: string }, texts: ReplyTexts = {}): string {
  if (texts.loggedIn !== undefined) {
    // An unknown count (the counter was unavailable) reads as "?", never as a literal placeholder.
    const text = renderReply(texts.loggedIn, {
      ...attemptValues(attempt),
      count: attempt.loginCount !== undefined ? String(attempt.loginCount) : '?',
    });
    // The account's own words, with the way to sign the browser out on a line of its own.
    return attempt.sessionsUrl !== undefined ? `${text}\n${attempt.sessionsUrl}` : text;
  }
  const { browser, os } = describeBrowser(attempt.browser.userAgent);
  return [
    '✅ 扫码登录成功',
    ...attemptLines(attempt),
    ...(attempt.loginCount !== undefined ? [`这是你第 ${attempt.loginCount} 次扫码登录。`] : []),
    ...(attempt.sessionsUrl !== undefined
      ? [
          `如果这不是你本人的操作，请打开链接退出这个浏览器：${attempt.sessionsUrl}`,
          `Signed in on ${browser} (${os}). Not you? Sign it out here: ${attempt.sessionsUrl}`,
        ]
      : [NOT_YOU, `Signed in on ${browser} (${os}). Not you? Contact the site to revoke the session.`]),
  ].join('\n');
}

/**
 * `tap` mode: the scan is recorded and the scanner still has to confirm. With `confirmUrl` the reply carries
 * the link to confirm or refuse.
 */
export function confirmRequestText(attempt: LoginAttempt & { confirmUrl?: string }, texts: ReplyTexts = {}): string {
  // The account's text needs the link (checked at start-up); without links the built-in text explains instead.
  if (texts.confirmRequest !== undefined && attempt.confirmUrl !== undefined) {
    return renderReply(texts.confirmRequest, { ...attemptValues(attempt), link: attempt.confirmUrl });
  }
  return [
    '📱 已收到扫码，需要你确认登录',
    ...attemptLines(attempt),
    attempt.confirmUrl !== undefined
      ? `请确认是你本人在登录：${attempt.confirmUrl}`
      : '请按网页上的提示确认登录；确认之前，这个浏览器不会登录。',
    '如果这不是你本人的操作：请不要确认。',
    'Scan received: confirm the login before the browser is signed in.',
  ].join('\n');
}

/** The same WeChat user scanned a code they already scanned: nothing changes (`confirmUrl`: the link again). */
export function alreadyScannedByYouText(status: TicketStatus, confirmUrl?: string, texts: ReplyTexts = {}): string {
  if (texts.alreadyScanned !== undefined) {
    const text = renderReply(texts.alreadyScanned, {});
    return status === 'scanned' && confirmUrl !== undefined ? `${text}\n${confirmUrl}` : text;
  }
  if (status !== 'scanned') return '你已经扫描过这个二维码，无需重复操作。\nAlready scanned: nothing more to do.';
  return confirmUrl !== undefined
    ? `你已经扫描过这个二维码，请确认登录：${confirmUrl}\nAlready scanned: please confirm the login.`
    : '你已经扫描过这个二维码，请按提示确认登录。\nAlready scanned: please confirm the login.';
}

/** Unknown, malformed or expired scene. */
export function unknownCodeText(texts: ReplyTexts = {}): string {
  if (texts.unknownCode !== undefined) return renderReply(texts.unknownCode, {});
  return '这个二维码已过期或无法识别，请刷新网页后重新扫码。\nThis QR code has expired or is unknown: refresh the page and scan again.';
}

/** Someone else scanned the code first, or the login already ended. */
export function refusedText(texts: ReplyTexts = {}): string {
  if (texts.refused !== undefined) return renderReply(texts.refused, {});
  return '这个二维码已经被使用，无法再次登录。请刷新网页获取新的二维码。\nThis QR code has already been used: refresh the page for a new one.';
}
