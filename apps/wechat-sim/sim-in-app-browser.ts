/**
 * WeChat's in-app browser and a tap: what the phone does with a link in a reply (the gateway's one-time
 * confirmation page in `tap` mode).
 */

/** An HTTP answer as the phone's in-app browser got it. */
export interface PageResult {
  status: number;
  body: string;
}

/** What following a confirmation link did: the page shown, and the answer to the tapped button (if any). */
export interface FollowedLink {
  page: PageResult;
  /** Null when the page offered no form to tap (a refusal page). */
  submitted: PageResult | null;
}

/** WeChat's in-app browser on an iPhone, as the gateway's confirmation page would see it. */
export const WECHAT_IN_APP_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN';

const decodeHtml = (s: string): string =>
  s.replace(/&(amp|lt|gt|quot|#39);/g, (_m, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? '');

/**
 * What WeChat's in-app browser and a tap do with the link in a reply: GET the page, then submit its form with
 * the button `action` (`confirm` or `cancel`), from the page's own origin, as a browser would.
 */
export async function followLink(url: string, action: 'confirm' | 'cancel'): Promise<FollowedLink> {
  const headers = { 'user-agent': WECHAT_IN_APP_UA, 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' };
  const res = await fetch(url, { headers });
  const page = { status: res.status, body: await res.text() };
  const form = /<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(page.body);
  if (res.status !== 200 || form === null) return { page, submitted: null };
  const [, action_, inner = ''] = form;
  if (!new RegExp(`<button\\b[^>]*\\bname="action"[^>]*\\bvalue="${action}"`).test(inner)) {
    throw new Error(`the confirmation page has no "${action}" button`);
  }
  const fields = new URLSearchParams();
  for (const input of inner.matchAll(/<input\b[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"/g)) {
    fields.append(decodeHtml(input[1] ?? ''), decodeHtml(input[2] ?? ''));
  }
  fields.append('action', action);
  const submitted = await fetch(new URL(decodeHtml(action_ ?? ''), url), {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
    body: fields.toString(),
  });
  return { page, submitted: { status: submitted.status, body: await submitted.text() } };
}

/** The confirmation link in a reply text, if there is one. */
export const linkIn = (reply: string | null): string | undefined => /https?:\/\/[^\s<>"']+/.exec(reply ?? '')?.[0];
