/**
 * The WeChat user's phone: scans through the simulator's JSON API, exactly as its /sim page does.
 */
export interface ScanResult {
  delivered: boolean;
  attempts: number;
  status: number;
  event: 'subscribe' | 'SCAN';
  reply: string | null;
  rawBody: string;
}

export async function scan(simUrl: string, input: { scene: string; openid: string; encrypt?: boolean }): Promise<ScanResult> {
  const res = await fetch(`${simUrl}/sim/api/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (!res.ok) throw new Error(`scan failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as ScanResult;
}

/** Make the user a follower without a push, so their next scan is a `SCAN` (not `subscribe`). */
export async function follow(simUrl: string, openid: string): Promise<void> {
  const res = await fetch(`${simUrl}/sim/api/follow`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ openid }),
  });
  if (!res.ok) throw new Error(`follow failed: ${res.status}`);
}

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
