/**
 * Parametric QR codes as `qrcode/create` makes them (WECHAT.md §2): request validation, the ticket and url
 * WeChat hands back, and the registry of live codes. Expired codes are dropped so memory stays bounded.
 */
import { randomBytes } from 'node:crypto';

const MAX_EXPIRE_SECONDS = 2_592_000;
const DEFAULT_EXPIRE_SECONDS = 60;
const MAX_UINT32 = 4_294_967_295;
/** WeChat caps permanent codes at 100,000 per account (§2.3). */
const MAX_PERMANENT = 100_000;
/**
 * Most codes the simulator keeps at once (a temporary code may live 30 days): WeChat's own daily quota of
 * codes per account. Past it the oldest code is forgotten, as if it had expired, so memory stays bounded.
 */
export const MAX_SIM_CODES = 100_000;

export interface SimQrCode {
  /** Base64-like, always with `+`, `/` and `=` so that encoding bugs show. */
  ticket: string;
  /** `http://weixin.qq.com/q/…`, what the image encodes. */
  url: string;
  /** The scene as events report it: `scene_str`, or `scene_id` in decimal. */
  scene: string;
  createdAt: number;
  /** Epoch ms; `null` for permanent codes. */
  expiresAt: number | null;
}

export interface QrCreateRequest {
  scene: string;
  /** `null` for permanent codes. */
  expireSeconds: number | null;
}

export type QrCreateParse = { ok: true; request: QrCreateRequest } | { ok: false; errcode: number; errmsg: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (hint: string): QrCreateParse => ({ ok: false, errcode: 40097, errmsg: `invalid args hint: [sim] ${hint}` });

/** Validate a `qrcode/create` body the way WeChat does, including its quirks. */
export function parseQrCreate(body: unknown): QrCreateParse {
  if (!isRecord(body)) return { ok: false, errcode: 47001, errmsg: 'data format error hint: [sim] body must be a JSON object' };
  const action = body.action_name;
  if (action !== 'QR_SCENE' && action !== 'QR_STR_SCENE' && action !== 'QR_LIMIT_SCENE' && action !== 'QR_LIMIT_STR_SCENE') {
    return invalid('action_name must be QR_SCENE, QR_STR_SCENE, QR_LIMIT_SCENE or QR_LIMIT_STR_SCENE');
  }
  const permanent = action.startsWith('QR_LIMIT_');
  let expireSeconds: number | null = null;
  if (!permanent) {
    const given = body.expire_seconds;
    if (given === undefined) expireSeconds = DEFAULT_EXPIRE_SECONDS;
    else if (typeof given === 'number' && Number.isInteger(given) && given >= 1 && given <= MAX_EXPIRE_SECONDS) {
      expireSeconds = given;
    } else return invalid(`expire_seconds must be an integer from 1 to ${MAX_EXPIRE_SECONDS}`);
  }
  const info = isRecord(body.action_info) ? body.action_info : undefined;
  if (info === undefined) return invalid('action_info is required');
  if (!isRecord(info.scene)) {
    // WeChat's quirk (§2.1): a scene outside the `scene` wrapper is accepted, and events then carry scene 0.
    if ('scene_str' in info || 'scene_id' in info) return { ok: true, request: { scene: '0', expireSeconds } };
    return invalid('action_info.scene is required');
  }
  const scene = info.scene;
  if (action.endsWith('STR_SCENE')) {
    const str = scene.scene_str;
    if (typeof str !== 'string' || str.length < 1 || str.length > 64) {
      return invalid('action_info.scene.scene_str must be a string of 1 to 64 characters');
    }
    return { ok: true, request: { scene: str, expireSeconds } };
  }
  const id = scene.scene_id;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) {
    return invalid('action_info.scene.scene_id must be a positive integer');
  }
  if (permanent && id > MAX_PERMANENT) return invalid('permanent scene_id must be 1 to 100000');
  // WeChat treats scene_id as unsigned 32-bit and clamps larger values (§2.1).
  return { ok: true, request: { scene: String(Math.min(id, MAX_UINT32)), expireSeconds } };
}

export interface QrRegistry {
  /** Register a new code; `null` when the permanent-code cap is reached. */
  create(request: QrCreateRequest): SimQrCode | null;
  /** The live code with this ticket. */
  byTicket(ticket: string): SimQrCode | null;
  /** The newest live code with this scene. */
  byScene(scene: string): SimQrCode | null;
  /** Live codes, newest first. */
  live(): SimQrCode[];
}

function newTicket(): string {
  // 46 random bytes always end in `==`; retry until `+` and `/` appear too (a few tries at most).
  for (;;) {
    const ticket = `gQ${randomBytes(46).toString('base64')}`;
    if (ticket.includes('+') && ticket.includes('/')) return ticket;
  }
}

function newUrl(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const id = [...randomBytes(22)].map((b) => alphabet[b % alphabet.length]).join('');
  return `http://weixin.qq.com/q/02${id}`;
}

export function createQrRegistry(now: () => number = Date.now, maxCodes: number = MAX_SIM_CODES): QrRegistry {
  const codes = new Map<string, SimQrCode>();
  const latestByScene = new Map<string, string>();
  let permanentCount = 0;
  let lastPrune = 0;

  const isLive = (code: SimQrCode): boolean => code.expiresAt === null || code.expiresAt > now();

  function prune(): void {
    const t = now();
    if (t - lastPrune < 1000) return;
    lastPrune = t;
    for (const [ticket, code] of codes) {
      if (isLive(code)) continue;
      codes.delete(ticket);
      if (latestByScene.get(code.scene) === ticket) latestByScene.delete(code.scene);
    }
  }

  const live = (code: SimQrCode | undefined): SimQrCode | null => (code !== undefined && isLive(code) ? code : null);

  return {
    create(request) {
      prune();
      if (request.expireSeconds === null) {
        if (permanentCount >= MAX_PERMANENT) return null;
        permanentCount += 1;
      }
      const createdAt = now();
      const code: SimQrCode = {
        ticket: newTicket(),
        url: newUrl(),
        scene: request.scene,
        createdAt,
        expiresAt: request.expireSeconds === null ? null : createdAt + request.expireSeconds * 1000,
      };
      codes.set(code.ticket, code);
      latestByScene.set(code.scene, code.ticket);
      // Maps iterate in insertion order: the first entry is the oldest code.
      while (codes.size > maxCodes) {
        const [oldest, dropped] = codes.entries().next().value as [string, SimQrCode];
        codes.delete(oldest);
        if (latestByScene.get(dropped.scene) === oldest) latestByScene.delete(dropped.scene);
        if (dropped.expiresAt === null) permanentCount -= 1;
      }
      return code;
    },
    byTicket: (ticket) => live(codes.get(ticket)),
    byScene(scene) {
      const ticket = latestByScene.get(scene);
      return ticket === undefined ? null : live(codes.get(ticket));
    },
    live() {
      prune();
      return [...codes.values()].filter(isLive).reverse();
    },
  };
}
