/**
 * The WeChat Official Account API client (WECHAT.md §1–§3): a stable access token shared by every process
 * through the engine's key-value store, temporary string-scene QR codes, and user info.
 *
 * Token rules (§1.3): normal-mode `stable_token` only, cached as `{token, expiresAt}` in `kv`, refreshed when
 * less than 300 s remain, under a `setIfAbsent` lock so that one process in the whole deployment calls
 * WeChat while the others wait for the cache. A business call that fails with a token error drops the cached
 * token only if it is still the one that failed, refreshes once (normal mode) and retries once.
 *
 * Each process also keeps the token it last read from `kv` for a few seconds (`tokenReuseMs`), so a new login
 * costs no store round trip for it. That copy is never the only truth: it is dropped the moment WeChat
 * rejects it (the business call then re-reads `kv` and, if need be, refreshes), and it is never used inside
 * the refresh margin, so it cannot outlive a token that normal-mode renewal retires (old and new both work
 * for the last 5 minutes, §1.2).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { KeyValueStore } from '../engine/engine.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { createHttpTransport, fetchTransport, type HttpAnswer, type HttpCall } from './wechat-http.js';

/** errcode used for transport failures (network error, timeout, non-JSON answer); WeChat never sends it. */
export const WECHAT_TRANSPORT_ERROR = -2;

/** A failed WeChat API call. `message` says what to do; `errmsg` is WeChat's own text. */
export class WechatApiError extends Error {
  override name = 'WechatApiError';
  constructor(
    /** WeChat's errcode, or `-2` for a transport failure. */
    readonly errcode: number,
    /** WeChat's errmsg (or the transport error's description). */
    readonly errmsg: string,
    /** API path, e.g. `/cgi-bin/qrcode/create`. */
    readonly endpoint: string,
    message: string = describeError(errcode, errmsg, endpoint),
  ) {
    super(message);
  }
}

export interface WechatQrCode {
  /** WeChat's ticket; exchange it for the image at `imageUrl`. */
  ticket: string;
  /** The payload encoded in the QR image (`http://weixin.qq.com/q/…`); you may render it yourself. */
  url: string;
  expireSeconds: number;
  /** `showqrcode` URL with the ticket encoded exactly once. */
  imageUrl: string;
}

export interface WechatUserInfo {
  openid: string;
  unionid?: string;
  /** Usually absent: WeChat stopped returning nicknames in 2021 (§3). */
  nickname?: string;
  /** Usually absent, like `nickname`. */
  avatar?: string;
  /** Whether the user follows the Official Account. */
  subscribe: boolean;
}

export interface WechatClient {
  /** The Official Account this client speaks for; the QR codes it creates belong to it. */
  readonly appId: string;
  /** A valid access token, from the shared cache or fetched once for the whole deployment. */
  getAccessToken(): Promise<string>;
  /** A temporary `QR_STR_SCENE` code whose scan events carry `sceneStr`. */
  createQrCode(sceneStr: string, expireSeconds: number): Promise<WechatQrCode>;
  getUserInfo(openid: string): Promise<WechatUserInfo>;
}

export interface WechatClientOptions {
  /** e.g. `https://api.weixin.qq.com`, or the simulator's URL. */
  apiBase: string;
  appId: string;
  appSecret: string;
  /** Shared store for the token cache and its lock. */
  kv: KeyValueStore;
  /**
   * Send requests through this `fetch` instead (e.g. to route them in a test). Default: none, requests go
   * over `node:http(s)` keep-alive connections (`wechat-http.ts`).
   */
  fetch?: typeof fetch;
  metrics?: Metrics;
  logger?: Logger;
  /** Host of `showqrcode`. Default `https://mp.weixin.qq.com` for the real API, else `apiBase`. */
  showQrBase?: string;
  /** Per-request timeout, ms. Default 5000. */
  timeoutMs?: number;
  /**
   * How long this process reuses the token it last read from `kv` before reading `kv` again, ms. Default
   * 5000; 0 reads `kv` on every call.
   */
  tokenReuseMs?: number;
}

/** Refresh a cached token when fewer than this many ms remain (§1.2: stable tokens renew 5 min early). */
const REFRESH_MARGIN_MS = 300_000;
/** Shortest lock lifetime; it always outlasts a token fetch (two attempts), so it never lapses mid-fetch. */
const MIN_LOCK_TTL_MS = 10_000;
const POLL_INTERVAL_MS = 50;
/** How long a failed fetch is remembered, so waiting processes share the error instead of each retrying. */
const FAILURE_TTL_MS = 2_000;
const BUSY_RETRY_DELAY_MS = 200;
/** A failed refresh falls back to the cached token while it has at least this long to live. */
const STALE_GRACE_MS = 10_000;
const TOKEN_ERRORS = new Set([40001, 40014, 42001]);

const REAL_API_BASE = 'https://api.weixin.qq.com';

const errorBody = z.object({ errcode: z.number(), errmsg: z.string().optional() }).loose();
const tokenBody = z.object({ access_token: z.string().min(1), expires_in: z.number().positive() });
const qrBody = z.object({ ticket: z.string().min(1), url: z.string(), expire_seconds: z.number().optional() });
const userBody = z.object({
  openid: z.string(),
  subscribe: z.number(),
  unionid: z.string().optional(),
  nickname: z.string().optional(),
  headimgurl: z.string().optional(),
});
const cachedToken = z.object({ token: z.string(), expiresAt: z.number() });
const cachedFailure = z.object({ errcode: z.number(), errmsg: z.string() });

type CachedToken = z.infer<typeof cachedToken>;

/** Create a client. It opens no connection until a method is called. */
export function createWechatClient(options: WechatClientOptions): WechatClient {
  const apiBase = options.apiBase.replace(/\/+$/, '');
  const showQrBase = (options.showQrBase ?? (apiBase === REAL_API_BASE ? 'https://mp.weixin.qq.com' : apiBase)).replace(/\/+$/, '');
  const transport = options.fetch === undefined ? createHttpTransport() : fetchTransport(options.fetch);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const tokenReuseMs = options.tokenReuseMs ?? 5_000;
  const lockTtlMs = Math.max(MIN_LOCK_TTL_MS, 2 * timeoutMs + 2 * BUSY_RETRY_DELAY_MS + 1_000);
  const { kv, logger, metrics } = options;
  const tokenKey = `wechat:token:${options.appId}`;
  const lockKey = `wechat:token-lock:${options.appId}`;
  const failureKey = `wechat:token-failure:${options.appId}`;
  let inFlight: Promise<string> | null = null;

  /** One HTTP call, counted and turned into a WechatApiError when WeChat (or the network) says no. */
  async function callOnce(endpoint: string, url: string, init: Omit<HttpCall, 'signal'>): Promise<unknown> {
    let result = 'ok';
    try {
      let response: HttpAnswer;
      // An explicit timer rather than AbortSignal.timeout: the timer holds the controller strongly, so the
      // deadline fires even if nothing else references the signal (a weakly held timeout signal can be
      // collected and never fire, nodejs/node#57736).
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      try {
        response = await transport(url, { ...init, signal: controller.signal });
      } catch (err) {
        // The URL is left out on purpose: it carries the access token.
        const detail = controller.signal.aborted ? `no answer within ${timeoutMs} ms` : `network error: ${causeOf(err)}`;
        throw new WechatApiError(WECHAT_TRANSPORT_ERROR, detail, endpoint);
      } finally {
        clearTimeout(timer);
      }
      let body: unknown;
      try {
        body = JSON.parse(response.text);
      } catch {
        throw new WechatApiError(WECHAT_TRANSPORT_ERROR, `HTTP ${response.status} with a non-JSON body`, endpoint);
      }
      // Most answers (a QR code, a token) carry no errcode at all: only those that do are parsed as an error.
      const error = typeof body === 'object' && body !== null && 'errcode' in body ? errorBody.safeParse(body) : undefined;
      if (error?.success === true && error.data.errcode !== 0) {
        throw new WechatApiError(error.data.errcode, error.data.errmsg ?? '', endpoint);
      }
      return body;
    } catch (err) {
      result = err instanceof WechatApiError ? String(err.errcode) : String(WECHAT_TRANSPORT_ERROR);
      if (err instanceof WechatApiError) logger?.warn({ endpoint, errcode: err.errcode, errmsg: err.errmsg }, err.message);
      throw err;
    } finally {
      metrics?.wechatApiCalls.inc({ endpoint, result });
    }
  }

  /** `callOnce`, retried once after a short pause when WeChat says it is busy (-1). */
  async function call(endpoint: string, url: string, init: Omit<HttpCall, 'signal'>): Promise<unknown> {
    try {
      return await callOnce(endpoint, url, init);
    } catch (err) {
      if (!(err instanceof WechatApiError) || err.errcode !== -1) throw err;
      await sleep(BUSY_RETRY_DELAY_MS + Math.floor(Math.random() * BUSY_RETRY_DELAY_MS));
      return callOnce(endpoint, url, init);
    }
  }

  function parse<T>(schema: z.ZodType<T>, body: unknown, endpoint: string): T {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new WechatApiError(WECHAT_TRANSPORT_ERROR, 'unexpected response shape', endpoint);
    return parsed.data;
  }

  async function readCache(): Promise<CachedToken | null> {
    const raw = await kv.get(tokenKey);
    if (raw === null) return null;
    try {
      const parsed = cachedToken.safeParse(JSON.parse(raw));
      return parsed.success ? parsed.data : null;
    } catch {
      return null;
    }
  }

  const isFresh = (cached: CachedToken | null): cached is CachedToken =>
    cached !== null && cached.expiresAt - Date.now() > REFRESH_MARGIN_MS;

  /** This process's copy of the shared token, and when it was read from (or written to) `kv`. */
  let local: { cached: CachedToken; readAt: number } | null = null;
  /** Keep a fresh token read from or written to `kv` as this process's copy. */
  const remember = (cached: CachedToken | null): void => {
    if (isFresh(cached)) local = { cached, readAt: Date.now() };
  };

  async function fetchAndStore(): Promise<string> {
    const endpoint = '/cgi-bin/stable_token';
    try {
      const body = await call(endpoint, `${apiBase}${endpoint}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'client_credential',
          appid: options.appId,
          secret: options.appSecret,
          force_refresh: false,
        }),
      });
      const { access_token: token, expires_in: expiresIn } = parse(tokenBody, body, endpoint);
      const expiresAt = Date.now() + expiresIn * 1000;
      await kv.set(tokenKey, JSON.stringify({ token, expiresAt } satisfies CachedToken), expiresIn * 1000);
      remember({ token, expiresAt });
      logger?.info({ expiresIn }, 'fetched a WeChat access token');
      return token;
    } catch (err) {
      if (err instanceof WechatApiError) {
        await kv.set(failureKey, JSON.stringify({ errcode: err.errcode, errmsg: err.errmsg }), FAILURE_TTL_MS);
      }
      throw err;
    }
  }

  async function readFailure(): Promise<WechatApiError | null> {
    const raw = await kv.get(failureKey);
    if (raw === null) return null;
    try {
      const parsed = cachedFailure.safeParse(JSON.parse(raw));
      return parsed.success ? new WechatApiError(parsed.data.errcode, parsed.data.errmsg, '/cgi-bin/stable_token') : null;
    } catch {
      return null;
    }
  }

  /** Take the deployment-wide lock and fetch, or wait for whoever holds it. */
  async function refresh(): Promise<string> {
    const deadline = Date.now() + 3 * lockTtlMs;
    const owner = randomBytes(8).toString('hex');
    for (;;) {
      if (await kv.setIfAbsent(lockKey, owner, lockTtlMs)) {
        try {
          // Someone may have stored a token between our cache read and taking the lock.
          const cached = await readCache();
          remember(cached);
          if (isFresh(cached)) return cached.token;
          await kv.delete(failureKey);
          return await fetchAndStore();
        } finally {
          // Unconditional delete is safe: the fetch is bounded below lockTtlMs, so the lock is still ours.
          await kv.delete(lockKey);
        }
      }
      for (;;) {
        if (Date.now() > deadline) {
          throw new WechatApiError(WECHAT_TRANSPORT_ERROR, 'timed out waiting for the token lock', '/cgi-bin/stable_token');
        }
        await sleep(POLL_INTERVAL_MS);
        const cached = await readCache();
        remember(cached);
        if (isFresh(cached)) return cached.token;
        if ((await kv.get(lockKey)) === null) break;
      }
      // The holder released the lock without a fresh token: it failed (share its error) or gave a short-lived one.
      const failure = await readFailure();
      if (failure !== null) throw failure;
      const cached = await readCache();
      if (cached !== null && cached.expiresAt > Date.now()) return cached.token;
    }
  }

  async function getAccessToken(): Promise<string> {
    if (local !== null && Date.now() - local.readAt < tokenReuseMs && isFresh(local.cached)) return local.cached.token;
    const cached = await readCache();
    remember(cached);
    if (isFresh(cached)) return cached.token;
    inFlight ??= refresh()
      .catch(async (err: unknown) => {
        // A token in its last 5 minutes still works: keep serving it while WeChat cannot renew it.
        const still = await readCache();
        if (still === null || still.expiresAt - Date.now() < STALE_GRACE_MS) throw err;
        logger?.warn({ expiresInMs: still.expiresAt - Date.now() }, 'token refresh failed; using the current token until it expires');
        return still.token;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  }

  /** Drop the cached token, but only if it is the one that just failed (another caller may have refreshed). */
  async function dropToken(failed: string): Promise<void> {
    if (local?.cached.token === failed) local = null;
    const cached = await readCache();
    if (cached?.token === failed) await kv.delete(tokenKey);
  }

  /** A business call with the token; on a token error: drop, refresh once in normal mode, retry once. */
  async function withToken(endpoint: string, buildUrl: (token: string) => string, init: Omit<HttpCall, 'signal'>): Promise<unknown> {
    const token = await getAccessToken();
    try {
      return await call(endpoint, buildUrl(token), init);
    } catch (err) {
      if (!(err instanceof WechatApiError) || !TOKEN_ERRORS.has(err.errcode)) throw err;
      await dropToken(token);
      const fresh = await getAccessToken();
      return call(endpoint, buildUrl(fresh), init);
    }
  }

  return {
    appId: options.appId,
    getAccessToken,

    async createQrCode(sceneStr, expireSeconds) {
      const endpoint = '/cgi-bin/qrcode/create';
      const body = await withToken(endpoint, (token) => `${apiBase}${endpoint}?access_token=${encodeURIComponent(token)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        // The `scene` wrapper is mandatory: without it WeChat still answers, but events carry scene 0 (§2.1).
        body: JSON.stringify({
          expire_seconds: expireSeconds,
          action_name: 'QR_STR_SCENE',
          action_info: { scene: { scene_str: sceneStr } },
        }),
      });
      const qr = parse(qrBody, body, endpoint);
      return {
        ticket: qr.ticket,
        url: qr.url,
        expireSeconds: qr.expire_seconds ?? expireSeconds,
        // Encoded exactly once: the ticket carries `+`, `/`, `=`, and double encoding gets a 404 (§2.2).
        imageUrl: `${showQrBase}/cgi-bin/showqrcode?ticket=${encodeURIComponent(qr.ticket)}`,
      };
    },

    async getUserInfo(openid) {
      const endpoint = '/cgi-bin/user/info';
      const body = await withToken(
        endpoint,
        (token) => `${apiBase}${endpoint}?${new URLSearchParams({ access_token: token, openid, lang: 'zh_CN' })}`,
        { method: 'GET' },
      );
      const user = parse(userBody, body, endpoint);
      return {
        openid: user.openid,
        unionid: nonEmpty(user.unionid),
        nickname: nonEmpty(user.nickname),
        avatar: nonEmpty(user.headimgurl),
        subscribe: user.subscribe === 1,
      };
    },
  };
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value === '' ? undefined : value);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function causeOf(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

/** An actionable message per errcode (§1.4). Never includes the token or the secret. */
function describeError(errcode: number, errmsg: string, endpoint: string): string {
  const wechat = `WeChat ${endpoint} failed with ${errcode}${errmsg === '' ? '' : ` (${errmsg})`}`;
  const isTokenEndpoint = endpoint.endsWith('/token') || endpoint.endsWith('/stable_token');
  switch (errcode) {
    case WECHAT_TRANSPORT_ERROR:
      return `WeChat ${endpoint} unreachable: ${errmsg}`;
    case -1:
      return `${wechat}: WeChat is busy; retry later`;
    case 40001:
      return isTokenEndpoint
        ? `${wechat}: the AppSecret is wrong or belongs to another account; check WECHAT_SECRET`
        : `${wechat}: the access token is invalid or not the latest`;
    case 40013:
      return `${wechat}: invalid AppID; check WECHAT_APPID`;
    case 40125:
      return `${wechat}: invalid AppSecret; check WECHAT_SECRET`;
    case 40243:
      return `${wechat}: the AppSecret is frozen; unfreeze or reset it in the Official Account backend`;
    case 40164:
      return `${wechat}: this server's IP is not in the Official Account's API IP whitelist; add the egress IP under Settings and Development → Basic configuration`;
    case 45009:
      return `${wechat}: the daily quota for this API is used up; stop calling until tomorrow (an admin can reset it with POST /cgi-bin/clear_quota, 10 times a month)`;
    case 45011:
      return `${wechat}: the per-minute limit was hit; wait for the next minute`;
    case 48001:
      return `${wechat}: this account may not use this API; parametric QR codes need a verified service account (use the sandbox test account for development)`;
    default:
      return wechat;
  }
}
