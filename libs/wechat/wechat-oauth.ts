/**
 * The Official Account's web authorization (网页授权, `snsapi_base`), as a browser inside WeChat signs in
 * without a QR code (research/ecosystem.md §3.2): the authorize URL, whose parameters WeChat matches in this
 * exact order and which must end in `#wechat_redirect`; a `state` in WeChat's alphabet; and the code exchange
 * at `sns/oauth2/access_token`. The URL and state are pure; the exchange is the one HTTP call.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/** Default host of the authorize page. */
export const WECHAT_OAUTH_BASE = 'https://open.weixin.qq.com';

/** WeChat accepts only letters and digits in `state`, at most 128 bytes (so no base64url: `-` and `_`). */
export const OAUTH_STATE = /^[A-Za-z0-9]{1,128}$/;

/** A fresh `state`: 32 hex digits, 128 bits. */
export const newOauthState = (): string => randomBytes(16).toString('hex');

/** The authorize URL: `appid, redirect_uri, response_type, scope, state` in this order, then `#wechat_redirect`. */
export function oauthAuthorizeUrl(input: {
  oauthBase?: string;
  appId: string;
  redirectUri: string;
  state: string;
  scope?: 'snsapi_base' | 'snsapi_userinfo';
}): string {
  if (!OAUTH_STATE.test(input.state)) throw new Error('state must be 1-128 letters and digits (WeChat refuses - and _)');
  const base = (input.oauthBase ?? WECHAT_OAUTH_BASE).replace(/\/+$/, '');
  // Built by hand, not with URLSearchParams: the order is WeChat's, and redirect_uri is percent-encoded once.
  const query = [
    `appid=${encodeURIComponent(input.appId)}`,
    `redirect_uri=${encodeURIComponent(input.redirectUri)}`,
    'response_type=code',
    `scope=${input.scope ?? 'snsapi_base'}`,
    `state=${input.state}`,
  ].join('&');
  return `${base}/connect/oauth2/authorize?${query}#wechat_redirect`;
}

/** The errcodes that mean the code itself is bad: invalid, already used, expired (as Logto treats them). */
export const INVALID_OAUTH_CODE_ERRCODES: readonly number[] = [40029, 40163, 42003];

/** What the code exchange told us. `snapshot`: a virtual user of snapshot page mode, never to be signed in. */
export type OauthExchange =
  | { ok: true; openid: string; unionid?: string; scope: string; snapshot: boolean }
  | { ok: false; errcode: number; errmsg: string };

const tokenBody = z.object({
  openid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  scope: z.string().optional(),
  unionid: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
  is_snapshotuser: z.number().optional(),
});
const errorBody = z.object({ errcode: z.number(), errmsg: z.string().optional() });

/** Transport failures and unreadable answers, as an errcode no WeChat answer has. */
export const OAUTH_TRANSPORT_ERROR = -2;

/** Exchange `code` at `{apiBase}/sns/oauth2/access_token`. Never throws: a failure is an errcode. */
export async function exchangeOauthCode(input: {
  apiBase: string;
  appId: string;
  appSecret: string;
  code: string;
  timeoutMs?: number;
  fetch?: typeof fetch;
}): Promise<OauthExchange> {
  const url = `${input.apiBase.replace(/\/+$/, '')}/sns/oauth2/access_token?${new URLSearchParams({
    appid: input.appId,
    secret: input.appSecret,
    code: input.code,
    grant_type: 'authorization_code',
  })}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), input.timeoutMs ?? 5_000);
  let body: unknown;
  try {
    const response = await (input.fetch ?? fetch)(url, { signal: controller.signal });
    if (!response.ok) return { ok: false, errcode: OAUTH_TRANSPORT_ERROR, errmsg: `HTTP ${response.status}` };
    body = await response.json();
  } catch (error) {
    return {
      ok: false,
      errcode: OAUTH_TRANSPORT_ERROR,
      errmsg: (error as Error).name === 'AbortError' ? 'timed out' : 'unreachable or not JSON',
    };
  } finally {
    clearTimeout(timer);
  }
  const failed = errorBody.safeParse(body);
  if (failed.success && failed.data.errcode !== 0) return { ok: false, errcode: failed.data.errcode, errmsg: failed.data.errmsg ?? '' };
  const parsed = tokenBody.safeParse(body);
  if (!parsed.success) return { ok: false, errcode: OAUTH_TRANSPORT_ERROR, errmsg: 'unexpected answer' };
  const { openid, unionid, scope, is_snapshotuser } = parsed.data;
  return { ok: true, openid, scope: scope ?? '', snapshot: is_snapshotuser === 1, ...(unionid !== undefined ? { unionid } : {}) };
}
