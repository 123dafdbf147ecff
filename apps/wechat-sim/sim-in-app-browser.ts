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

/** The first `<form method="post">` of a page: its action, attributes and inner HTML. */
function formIn(html: string): { action: string; attributes: string; inner: string } | null {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (form === null || !/\bmethod="post"/i.test(form[1] ?? '')) return null;
  const action = /\baction="([^"]*)"/.exec(form[1] ?? '')?.[1] ?? '';
  return { action: decodeHtml(action), attributes: form[1] ?? '', inner: form[2] ?? '' };
}

/** The form's hidden fields, as a browser would submit them. */
function fieldsOf(inner: string): URLSearchParams {
  const fields = new URLSearchParams();
  for (const input of inner.matchAll(/<input\b[^>]*\bname="([^"]*)"[^>]*\bvalue="([^"]*)"/g)) {
    fields.append(decodeHtml(input[1] ?? ''), decodeHtml(input[2] ?? ''));
  }
  return fields;
}

/**
 * What WeChat's in-app browser and a tap do with the link in a reply, as a browser would: GET the page (the
 * fragment stays on the phone), do what its script does (post the fragment's `t` with the opener form), keep
 * the cookie that answer sets, then submit the request page's form with the button `action` (`confirm` or
 * `cancel` on the confirmation page; `end_all`, "sign out everywhere", on the signed-in browsers page the
 * reply after a login links to), from the page's own origin.
 */
export async function followLink(url: string, action: 'confirm' | 'cancel' | 'end_all'): Promise<FollowedLink> {
  const headers: Record<string, string> = { 'user-agent': WECHAT_IN_APP_UA, 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' };
  const link = new URL(url);
  const post = (target: string, fields: URLSearchParams) =>
    browserFetch(new URL(target, link), {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', origin: link.origin },
      body: fields.toString(),
    });

  const opened = await browserFetch(new URL(link.pathname + link.search, link), { headers });
  let page = { status: opened.status, body: await opened.text() };
  let form = formIn(page.body);
  // The opener: what its script does, with the fragment a real browser keeps to itself.
  const fragmentField = form === null ? undefined : /\bdata-from-fragment="([^"]*)"/.exec(form.attributes)?.[1];
  if (form !== null && fragmentField !== undefined) {
    const fields = fieldsOf(form.inner);
    fields.set(fragmentField, new URLSearchParams(link.hash.slice(1)).get(fragmentField) ?? '');
    const shown = await post(form.action, fields);
    // The device cookie (SameSite=Strict, this origin): sent with the decision like a browser would.
    const cookie = shown.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    if (cookie !== '') headers['cookie'] = cookie;
    page = { status: shown.status, body: await shown.text() };
    form = formIn(page.body);
  }
  if (page.status !== 200 || form === null) return { page, submitted: null };
  if (!new RegExp(`<button\\b[^>]*\\bname="action"[^>]*\\bvalue="${action}"`).test(form.inner)) {
    throw new Error(`the confirmation page has no "${action}" button`);
  }
  const fields = fieldsOf(form.inner);
  fields.append('action', action);
  const submitted = await post(form.action, fields);
  return { page, submitted: { status: submitted.status, body: await submitted.text() } };
}

/**
 * `fetch` as a browser sends a request: one that failed without any answer (a kept-alive connection the server
 * or a proxy had just closed: "other side closed") is sent once more on a new connection, as browsers do.
 */
async function browserFetch(url: URL, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return fetch(url, init);
  }
}

/** The confirmation link in a reply text, if there is one. */
export const linkIn = (reply: string | null): string | undefined => /https?:\/\/[^\s<>"']+/.exec(reply ?? '')?.[0];
