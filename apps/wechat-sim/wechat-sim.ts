/**
 * A local stand-in for the WeChat platform: the API endpoints qrgate calls (tokens, QR codes, user info),
 * the QR image host, and a phone that scans codes and pushes signed (optionally encrypted) events to the
 * webhook, retrying like WeChat. State lives in memory; expired codes are dropped.
 */
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import Koa from 'koa';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { Logger } from '../../libs/observability/index.js';
import { pathOnly } from '../../libs/observability/index.js';
import { buildEventXml, readReply, signPush, type SignedPush } from '../../libs/wechat/index.js';
import { deliverPush, type DeliveryResult } from './sim-push.js';
import { renderPhonePage } from './sim-page.js';
import { createQrRegistry, parseQrCreate, type SimQrCode } from './sim-qrcodes.js';
import { createSimTokens } from './sim-tokens.js';
import { DEMO_USERS, createSimUsers } from './sim-users.js';

export interface WechatSimOptions {
  appId: string;
  appSecret: string;
  /** The Token that signs pushes. */
  token: string;
  /** Set: pushes are encrypted (safe mode) unless a scan asks for plaintext. */
  encodingAesKey?: string;
  /** The account's original id (`gh_…`), the pushes' `ToUserName`. Default `gh_qrgatesim000`. */
  originalId?: string;
  /** Where events are pushed. */
  webhookUrl: string;
  /** How long to wait for the webhook before resending, ms. Default 5000, as WeChat. */
  retryTimeoutMs?: number;
  /** Deliveries per push in total. Default 3. */
  maxAttempts?: number;
  logger?: Logger;
}

/** API endpoints that count in stats and accept `failNext`. */
export type SimApiEndpoint = '/cgi-bin/stable_token' | '/cgi-bin/token' | '/cgi-bin/qrcode/create' | '/cgi-bin/user/info';

export interface SimStats {
  stableTokenCalls: number;
  tokenCalls: number;
  qrcodeCreateCalls: number;
  userInfoCalls: number;
  /** HTTP requests sent to the webhook, retries included. */
  pushes: number;
}

export interface ScanInput {
  /** The code's scene; the newest live code with it is scanned. */
  scene?: string;
  /** The code's ticket; takes precedence over `scene`. */
  qrTicket?: string;
  openid: string;
  /** Default: encrypted exactly when the simulator has an `encodingAesKey`. */
  encrypt?: boolean;
}

export interface PushOutcome {
  delivered: boolean;
  attempts: number;
  status: number;
  /** Text content of the reply as the user would see it; null for `success`, an empty body or no answer. */
  reply: string | null;
  /** Why the reply could not be read (bad MsgSignature, undecryptable), when it could not. */
  replyError?: string;
  /** The webhook's answer as received. */
  rawBody: string;
}

export interface ScanResult extends PushOutcome {
  event: 'subscribe' | 'SCAN';
}

/** A live code as `/sim/api/codes` lists it. */
export interface SimCodeView {
  scene: string;
  qrTicket: string;
  url: string;
  createdAt: number;
  /** Epoch ms; null for permanent codes. */
  expiresAt: number | null;
}

export interface WechatSim {
  /** Mount with `http.createServer(sim.app.callback())`. */
  readonly app: Koa;
  stats(): SimStats;
  resetStats(): void;
  /** Scan a code as a phone would (what `POST /sim/api/scan` does). Throws SimError 404 for no live code. */
  scan(input: ScanInput): Promise<ScanResult>;
  /** Follow without a push, so that the next scan is a `SCAN`. */
  follow(openid: string): void;
  /** Unfollow and push `unsubscribe`. Throws SimError 409 when the user does not follow. */
  unfollow(openid: string, options?: { encrypt?: boolean }): Promise<PushOutcome>;
  /** Live codes, newest first. */
  codes(): SimCodeView[];
  /** Test hook: the next `times` calls to `endpoint` answer `{errcode}` (WeChat-like errmsg). Default once. */
  failNext(endpoint: SimApiEndpoint, errcode: number, times?: number): void;
  /** Test hook: invalidate every access token issued so far (business APIs answer 40001). */
  revokeTokens(): void;
  /** Abort pushes in progress. The simulator owns no server; the caller closes its own. */
  close(): Promise<void>;
}

/** An error with its HTTP meaning; `message` is shown to the client. */
export class SimError extends Error {
  override name = 'SimError';
  readonly expose = true;
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

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

const rid = (): string => `rid: ${randomBytes(4).toString('hex')}-${randomBytes(4).toString('hex')}`;
const wechatError = (errcode: number, errmsg: string) => ({ errcode, errmsg: `${errmsg} ${rid()}` });

const BODY_LIMIT = 64 * 1024;

const scanBody = z.object({
  scene: z.string().min(1).optional(),
  qrTicket: z.string().min(1).optional(),
  openid: z.string().min(1).max(64),
  encrypt: z.boolean().optional(),
});
const openidBody = z.object({ openid: z.string().min(1).max(64), encrypt: z.boolean().optional() });

/** Create the simulator. It listens nowhere; serve `app.callback()`. */
export function createWechatSim(options: WechatSimOptions): WechatSim {
  const originalId = options.originalId ?? 'gh_qrgatesim000';
  const retryTimeoutMs = options.retryTimeoutMs ?? 5000;
  const maxAttempts = options.maxAttempts ?? 3;
  const logger = options.logger;
  const tokens = createSimTokens();
  const qrcodes = createQrRegistry();
  const users = createSimUsers();
  const failures = new Map<SimApiEndpoint, { errcode: number; times: number }>();
  const closing = new AbortController();
  const pending = new Set<Promise<unknown>>();
  let stats: SimStats = zeroStats();

  const counters: Record<SimApiEndpoint, keyof SimStats> = {
    '/cgi-bin/stable_token': 'stableTokenCalls',
    '/cgi-bin/token': 'tokenCalls',
    '/cgi-bin/qrcode/create': 'qrcodeCreateCalls',
    '/cgi-bin/user/info': 'userInfoCalls',
  };

  /** Count the call; answer a scheduled failure instead, if one is due. */
  function enter(endpoint: SimApiEndpoint): { errcode: number; errmsg: string } | null {
    stats[counters[endpoint]] += 1;
    const failure = failures.get(endpoint);
    if (failure === undefined) return null;
    failure.times -= 1;
    if (failure.times <= 0) failures.delete(endpoint);
    return wechatError(failure.errcode, ERRMSG[failure.errcode] ?? 'simulated error');
  }

  function shouldEncrypt(encrypt: boolean | undefined): boolean {
    if (encrypt === true && options.encodingAesKey === undefined) {
      throw new SimError(400, 'the simulator has no encodingAesKey, so it cannot encrypt');
    }
    return encrypt ?? options.encodingAesKey !== undefined;
  }

  /** Sign, deliver with WeChat's retries, and read the reply as the user's phone would. */
  async function push(xml: string, openid: string, encrypt: boolean): Promise<PushOutcome> {
    const signed: SignedPush = signPush(xml, {
      token: options.token,
      openid,
      ...(encrypt && options.encodingAesKey !== undefined
        ? { aes: { encodingAesKey: options.encodingAesKey, appId: options.appId } }
        : {}),
    });
    const delivery = deliverPush({
      webhookUrl: options.webhookUrl,
      push: signed,
      timeoutMs: retryTimeoutMs,
      maxAttempts,
      signal: closing.signal,
      onAttempt: () => {
        stats.pushes += 1;
      },
    });
    pending.add(delivery);
    let result: DeliveryResult;
    try {
      result = await delivery;
    } finally {
      pending.delete(delivery);
    }
    // Signed URLs are replayable in plaintext mode: log the path only.
    logger?.info(
      { webhook: pathOnly(options.webhookUrl), attempts: result.attempts, status: result.status, error: result.error },
      result.delivered ? 'push delivered' : 'push not delivered',
    );
    const outcome: PushOutcome = {
      delivered: result.delivered,
      attempts: result.attempts,
      status: result.status,
      reply: null,
      rawBody: result.body,
    };
    if (!result.delivered || result.status !== 200) return outcome;
    try {
      outcome.reply = readReply(result.body, { token: options.token, encodingAesKey: options.encodingAesKey }).content;
    } catch (err) {
      outcome.replyError = err instanceof Error ? err.message : String(err);
    }
    return outcome;
  }

  const now = (): number => Math.floor(Date.now() / 1000);

  async function scan(input: ScanInput): Promise<ScanResult> {
    const code: SimQrCode | null =
      input.qrTicket !== undefined
        ? qrcodes.byTicket(input.qrTicket)
        : input.scene !== undefined
          ? qrcodes.byScene(input.scene)
          : null;
    if (input.qrTicket === undefined && input.scene === undefined) throw new SimError(400, 'give scene or qrTicket');
    if (code === null) throw new SimError(404, 'no live QR code with that scene or ticket (unknown or expired)');
    const encrypt = shouldEncrypt(input.encrypt);
    const user = users.ensure(input.openid);
    // WeChat pushes `subscribe` (prefixed key) to a new follower, once they tap Follow; `SCAN` otherwise.
    const event = user.following ? 'SCAN' : 'subscribe';
    if (event === 'subscribe') users.follow(input.openid, { scene: code.scene });
    const xml = buildEventXml({
      toUserName: originalId,
      fromUserName: input.openid,
      createTime: now(),
      event,
      eventKey: event === 'subscribe' ? `qrscene_${code.scene}` : code.scene,
      ticket: code.ticket,
    });
    return { event, ...(await push(xml, input.openid, encrypt)) };
  }

  async function unfollow(openid: string, pushOptions: { encrypt?: boolean } = {}): Promise<PushOutcome> {
    if (users.get(openid)?.following !== true) throw new SimError(409, 'this user does not follow the account');
    const encrypt = shouldEncrypt(pushOptions.encrypt);
    users.unfollow(openid);
    const xml = buildEventXml({ toUserName: originalId, fromUserName: openid, createTime: now(), event: 'unsubscribe', eventKey: '' });
    return push(xml, openid, encrypt);
  }

  const codes = (): SimCodeView[] =>
    qrcodes.live().map((c) => ({ scene: c.scene, qrTicket: c.ticket, url: c.url, createdAt: c.createdAt, expiresAt: c.expiresAt }));

  const router = new Router();

  router.post('/cgi-bin/stable_token', async (ctx) => {
    const failed = enter('/cgi-bin/stable_token');
    if (failed !== null) return void (ctx.body = failed);
    const body = await readWechatJson(ctx);
    const parsed = z
      .object({ grant_type: z.unknown(), appid: z.unknown(), secret: z.unknown(), force_refresh: z.unknown() })
      .partial()
      .safeParse(body);
    if (!parsed.success) return void (ctx.body = wechatError(47001, 'data format error'));
    const credentials = checkCredentials(parsed.data.grant_type, parsed.data.appid, parsed.data.secret);
    if (credentials !== null) return void (ctx.body = credentials);
    const issued = tokens.stable(parsed.data.force_refresh === true);
    ctx.body = { access_token: issued.token, expires_in: issued.expiresIn };
  });

  router.get('/cgi-bin/token', (ctx) => {
    const failed = enter('/cgi-bin/token');
    if (failed !== null) return void (ctx.body = failed);
    const q = ctx.query;
    const credentials = checkCredentials(q.grant_type, q.appid, q.secret);
    if (credentials !== null) return void (ctx.body = credentials);
    const issued = tokens.rotating();
    ctx.body = { access_token: issued.token, expires_in: issued.expiresIn };
  });

  function checkCredentials(grantType: unknown, appid: unknown, secret: unknown): { errcode: number; errmsg: string } | null {
    if (grantType !== 'client_credential') return wechatError(40002, 'invalid grant_type');
    if (appid !== options.appId) return wechatError(40013, 'invalid appid');
    if (secret !== options.appSecret) return wechatError(40125, 'invalid appsecret');
    return null;
  }

  const tokenOf = (ctx: Koa.Context): string | undefined => {
    const value = ctx.query.access_token;
    return typeof value === 'string' ? value : undefined;
  };

  router.post('/cgi-bin/qrcode/create', async (ctx) => {
    const failed = enter('/cgi-bin/qrcode/create');
    if (failed !== null) return void (ctx.body = failed);
    const check = tokens.check(tokenOf(ctx));
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

  router.get('/cgi-bin/showqrcode', async (ctx) => {
    const ticket = typeof ctx.query.ticket === 'string' ? ctx.query.ticket : '';
    const code = qrcodes.byTicket(ticket);
    if (code === null) {
      ctx.status = 404;
      ctx.body = 'not found';
      return;
    }
    ctx.type = 'image/png';
    const maxAge = code.expiresAt === null ? 604_800 : Math.max(0, Math.floor((code.expiresAt - Date.now()) / 1000));
    ctx.set('Cache-Control', `max-age=${maxAge}`);
    ctx.body = await QRCode.toBuffer(code.url, { type: 'png', margin: 2, scale: 6, errorCorrectionLevel: 'M' });
  });

  router.get('/cgi-bin/user/info', (ctx) => {
    const failed = enter('/cgi-bin/user/info');
    if (failed !== null) return void (ctx.body = failed);
    const check = tokens.check(tokenOf(ctx));
    if (!check.ok) return void (ctx.body = wechatError(check.errcode, check.errmsg));
    const openid = typeof ctx.query.openid === 'string' ? ctx.query.openid : '';
    const user = users.get(openid);
    if (user === undefined) return void (ctx.body = wechatError(40003, 'invalid openid'));
    if (!user.following) return void (ctx.body = { subscribe: 0, openid });
    // Since 2021-12-27 WeChat returns no nickname or avatar (§3).
    ctx.body = {
      subscribe: 1,
      openid,
      nickname: '',
      sex: 0,
      language: '',
      city: '',
      province: '',
      country: '',
      headimgurl: '',
      subscribe_time: user.subscribeTime ?? now(),
      remark: '',
      groupid: 0,
      tagid_list: [],
      subscribe_scene: user.qrSceneStr === undefined ? 'ADD_SCENE_OTHERS' : 'ADD_SCENE_QR_CODE',
      qr_scene: 0,
      qr_scene_str: user.qrSceneStr ?? '',
    };
  });

  // Liveness and readiness: the simulator has no dependency that could be down.
  router.get(['/healthz', '/readyz'], (ctx) => {
    ctx.body = { ok: true };
  });

  router.get('/sim', (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = renderPhonePage(DEMO_USERS);
  });

  router.post('/sim/api/scan', async (ctx) => {
    ctx.body = await scan(parseWith(scanBody, await readJson(ctx)));
  });

  router.post('/sim/api/unfollow', async (ctx) => {
    const input = parseWith(openidBody, await readJson(ctx));
    ctx.body = await unfollow(input.openid, input.encrypt === undefined ? {} : { encrypt: input.encrypt });
  });

  router.post('/sim/api/follow', async (ctx) => {
    const input = parseWith(openidBody, await readJson(ctx));
    users.follow(input.openid);
    ctx.body = { openid: input.openid, following: true };
  });

  router.get('/sim/api/users', (ctx) => {
    ctx.body = users.list().map((u) => ({ openid: u.openid, name: u.name, following: u.following }));
  });

  router.get('/sim/api/codes', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = codes();
  });

  router.get('/sim/api/stats', (ctx) => {
    ctx.body = { ...stats };
  });

  router.post('/sim/api/reset-stats', (ctx) => {
    stats = zeroStats();
    ctx.body = { ...stats };
  });

  const app = new Koa();
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const status = err instanceof SimError ? err.status : 500;
      ctx.status = status;
      ctx.body = { error: err instanceof SimError ? err.message : 'internal error' };
      if (status >= 500) logger?.error({ err, path: ctx.path }, 'simulator error');
    }
  });
  app.use(router.routes());
  app.use(router.allowedMethods());

  return {
    app,
    stats: () => ({ ...stats }),
    resetStats() {
      stats = zeroStats();
    },
    scan,
    follow(openid) {
      users.follow(openid);
    },
    unfollow,
    codes,
    failNext(endpoint, errcode, times = 1) {
      failures.set(endpoint, { errcode, times });
    },
    revokeTokens() {
      tokens.revokeAll();
    },
    async close() {
      closing.abort();
      await Promise.allSettled([...pending]);
    },
  };
}

function zeroStats(): SimStats {
  return { stableTokenCalls: 0, tokenCalls: 0, qrcodeCreateCalls: 0, userInfoCalls: 0, pushes: 0 };
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimError(400, `invalid body: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}

/** The body of a WeChat API call; malformed JSON becomes a value WeChat's validation rejects (47001). */
async function readWechatJson(ctx: Koa.Context): Promise<unknown> {
  try {
    return await readJson(ctx);
  } catch {
    return undefined;
  }
}

/** The request body as JSON; SimError 400/413 when it is not. No body parser is installed, so read it here. */
async function readJson(ctx: Koa.Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > BODY_LIMIT) throw new SimError(413, 'body too large');
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SimError(400, 'body is not JSON');
  }
}
