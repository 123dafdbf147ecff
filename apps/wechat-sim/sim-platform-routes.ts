/**
 * The WeChat platform's own HTTP API as the simulator serves it: tokens, QR codes and their images, user
 * info. Answers are WeChat's: HTTP 200 with `{errcode, errmsg}` on failure. Each call is counted, and a test
 * can schedule a failure for the next calls to an endpoint.
 */
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { Logger } from '../../libs/observability/index.js';
import { readWechatJson } from './sim-http.js';
import { parseQrCreate, type QrRegistry } from './sim-qrcodes.js';
import type { SimTokens } from './sim-tokens.js';
import type { SimUsers } from './sim-users.js';

/** API endpoints that are counted and accept scheduled failures. */
export type SimApiEndpoint = '/cgi-bin/stable_token' | '/cgi-bin/token' | '/cgi-bin/qrcode/create' | '/cgi-bin/user/info';

export interface WechatErrorBody {
  errcode: number;
  errmsg: string;
}

/** WeChat's wording for the errcodes a test may schedule. */
const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40014: 'invalid access_token',
  40164: 'invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist',
  42001: 'access_token expired',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit  mustslower  retry next minute',
  48001: 'api unauthorized',
};

/** An error body with a request id, like every real one. */
export function wechatError(errcode: number, errmsg: string): WechatErrorBody {
  return { errcode, errmsg: `${errmsg} rid: ${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}` };
}

/** Call counting and scheduled failures, shared by the routes and the simulator's test hooks. */
export interface ApiGate {
  /** Count a call; the scheduled failure to answer instead, if one is due. */
  enter(endpoint: SimApiEndpoint): WechatErrorBody | null;
  failNext(endpoint: SimApiEndpoint, errcode: number, times: number): void;
  calls(endpoint: SimApiEndpoint): number;
  resetCalls(): void;
}

export function createApiGate(): ApiGate {
  const calls = new Map<SimApiEndpoint, number>();
  const failures = new Map<SimApiEndpoint, { errcode: number; times: number }>();
  return {
    enter(endpoint) {
      calls.set(endpoint, (calls.get(endpoint) ?? 0) + 1);
      const failure = failures.get(endpoint);
      if (failure === undefined) return null;
      failure.times -= 1;
      if (failure.times <= 0) failures.delete(endpoint);
      return wechatError(failure.errcode, ERRMSG[failure.errcode] ?? 'simulated error');
    },
    failNext(endpoint, errcode, times) {
      failures.set(endpoint, { errcode, times });
    },
    calls: (endpoint) => calls.get(endpoint) ?? 0,
    resetCalls() {
      calls.clear();
    },
  };
}

export interface PlatformDeps {
  appId: string;
  appSecret: string;
  gate: ApiGate;
  tokens: SimTokens;
  qrcodes: QrRegistry;
  users: SimUsers;
  /** Every API answer waits this long, ms (WeChat's round trip). Default 0. */
  latencyMs?: number;
  logger?: Logger;
}

const stableTokenBody = z
  .object({ grant_type: z.unknown(), appid: z.unknown(), secret: z.unknown(), force_refresh: z.unknown() })
  .partial();

const queryString = (ctx: Context, name: string): string | undefined => {
  const value = ctx.query[name];
  return typeof value === 'string' ? value : undefined;
};

export function createPlatformRouter(deps: PlatformDeps): Router {
  const { gate, tokens, qrcodes, users, logger } = deps;
  const router = new Router({ strict: true, sensitive: true });
  const latencyMs = deps.latencyMs ?? 0;
  if (latencyMs > 0) {
    router.use(async (_ctx, next) => {
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      await next();
    });
  }
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  function checkCredentials(grantType: unknown, appid: unknown, secret: unknown): WechatErrorBody | null {
    if (grantType !== 'client_credential') return wechatError(40002, 'invalid grant_type');
    if (appid !== deps.appId) return wechatError(40013, 'invalid appid');
    if (secret !== deps.appSecret) return wechatError(40125, 'invalid appsecret');
    return null;
  }

  router.post('/cgi-bin/stable_token', async (ctx) => {
    const failed = gate.enter('/cgi-bin/stable_token');
    if (failed !== null) return void (ctx.body = failed);
    const parsed = stableTokenBody.safeParse(await readWechatJson(ctx));
    if (!parsed.success) return void (ctx.body = wechatError(47001, 'data format error'));
    const credentials = checkCredentials(parsed.data.grant_type, parsed.data.appid, parsed.data.secret);
    if (credentials !== null) return void (ctx.body = credentials);
    const issued = tokens.stable(parsed.data.force_refresh === true);
    ctx.body = { access_token: issued.token, expires_in: issued.expiresIn };
  });

  router.get('/cgi-bin/token', (ctx) => {
    const failed = gate.enter('/cgi-bin/token');
    if (failed !== null) return void (ctx.body = failed);
    const credentials = checkCredentials(ctx.query.grant_type, ctx.query.appid, ctx.query.secret);
    if (credentials !== null) return void (ctx.body = credentials);
    const issued = tokens.rotating();
    ctx.body = { access_token: issued.token, expires_in: issued.expiresIn };
  });

  router.post('/cgi-bin/qrcode/create', async (ctx) => {
    const failed = gate.enter('/cgi-bin/qrcode/create');
    if (failed !== null) return void (ctx.body = failed);
    const check = tokens.check(queryString(ctx, 'access_token'));
    if (!check.ok) return void (ctx.body = wechatError(check.errcode, check.errmsg));
    const parsed = parseQrCreate(await readWechatJson(ctx));
    if (!parsed.ok) return void (ctx.body = wechatError(parsed.errcode, parsed.errmsg));
    if (parsed.request.scene === '0') logger?.warn('qrcode/create without the action_info.scene wrapper: events will carry scene 0');
    const code = qrcodes.create(parsed.request);
    if (code === null) return void (ctx.body = wechatError(45009, 'reach max permanent qrcode limit'));
    ctx.body =
      parsed.request.expireSeconds === null
        ? { ticket: code.ticket, url: code.url }
        : { ticket: code.ticket, expire_seconds: parsed.request.expireSeconds, url: code.url };
  });

  // On mp.weixin.qq.com at WeChat; no token needed. Unknown or expired tickets get a bare 404 (§2.2).
  router.get('/cgi-bin/showqrcode', async (ctx) => {
    const code = qrcodes.byTicket(queryString(ctx, 'ticket') ?? '');
    if (code === null) {
      ctx.status = 404;
      ctx.body = 'not found';
      return;
    }
    const maxAge = code.expiresAt === null ? 604_800 : Math.max(0, Math.floor((code.expiresAt - Date.now()) / 1000));
    ctx.set('Cache-Control', `max-age=${maxAge}`);
    ctx.type = 'image/png';
    ctx.body = await QRCode.toBuffer(code.url, { type: 'png', margin: 2, scale: 6, errorCorrectionLevel: 'M' });
  });

  router.get('/cgi-bin/user/info', (ctx) => {
    const failed = gate.enter('/cgi-bin/user/info');
    if (failed !== null) return void (ctx.body = failed);
    const check = tokens.check(queryString(ctx, 'access_token'));
    if (!check.ok) return void (ctx.body = wechatError(check.errcode, check.errmsg));
    const openid = queryString(ctx, 'openid') ?? '';
    const user = users.get(openid);
    if (user === undefined) return void (ctx.body = wechatError(40003, 'invalid openid'));
    if (!user.following) return void (ctx.body = { subscribe: 0, openid });
    // Since 2021-12-27 WeChat returns no nickname or avatar (§3).
    ctx.body = {
      subscribe: 1,
      openid,
      // Only when the account is bound to an Open Platform account (here: users with a unionid).
      ...(user.unionid !== undefined ? { unionid: user.unionid } : {}),
      nickname: '',
      sex: 0,
      language: '',
      city: '',
      province: '',
      country: '',
      headimgurl: '',
      subscribe_time: user.subscribeTime ?? nowSeconds(),
      remark: '',
      ...(user.unionid !== undefined ? { unionid: user.unionid } : {}),
      groupid: 0,
      tagid_list: [],
      subscribe_scene: user.qrSceneStr === undefined ? 'ADD_SCENE_OTHERS' : 'ADD_SCENE_QR_CODE',
      qr_scene: 0,
      qr_scene_str: user.qrSceneStr ?? '',
    };
  });

  return router;
}
