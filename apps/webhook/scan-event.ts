/**
 * The use case behind a QR scan: find the ticket named by the event's scene, move it atomically, ring its
 * doorbell, and say what to tell the scanner. Knows nothing about HTTP or XML.
 */
import { createHash } from 'node:crypto';
import type { Engine } from '../../libs/engine/engine.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { ticketIdSchema } from '../../libs/protocol/index.js';
import type { ConfirmationLinkConfig } from '../../libs/config/index.js';
import { confirmationUrl, loginCountKey, newLoginCode, transition, type ConfirmationMode, type Ticket } from '../../libs/ticket/index.js';
import {
  alreadyScannedByYouText,
  confirmRequestText,
  loginReplyText,
  refusedText,
  unknownCodeText,
} from './scan-reply.js';

/** A pushed message as the `wechat` package flattens it: element name → text (or nested values). */
export type PushedMessage = Readonly<Record<string, unknown>>;

/** What happened to one scan event, and the text to send back (`null`: answer `success`). */
export type ScanEventResult =
  | { kind: 'ignored'; reply: null }
  | { kind: 'duplicate'; reply: null }
  | { kind: 'unknown_scene'; ticketId?: string; reply: string }
  | { kind: 'refused'; ticketId: string; reply: string }
  | { kind: 'ok'; ticketId: string; changed: boolean; reply: string };

/** What the scan use case needs; `confirmation` decides between `scan` (log in now) and `tap`. */
export interface ScanEventDeps {
  engine: Engine;
  metrics: Metrics;
  logger: Logger;
  confirmation: ConfirmationMode;
  /** `tap` mode: signs the one-time link to the gateway's confirmation page. Unset: no link in the reply. */
  confirmationLinks?: ConfirmationLinkConfig;
  now: () => number;
}

/** How long a dedupe mark lives: longer than WeChat's retries (3 deliveries about 5 s apart, WECHAT.md §6). */
export const DEDUPE_TTL_MS = 10 * 60 * 1000;

const text = (message: PushedMessage, name: string): string | undefined => {
  const value = message[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * The scene of a QR event (WECHAT.md §5): `subscribe` carries `qrscene_<scene>`, `SCAN` the bare scene. Other
 * events, and a plain follow without a key, have none.
 */
export function sceneOf(message: PushedMessage): string | null {
  const event = text(message, 'Event');
  const key = text(message, 'EventKey') ?? '';
  if (event === 'subscribe' && key.startsWith('qrscene_')) return key.slice('qrscene_'.length) || null;
  if (event === 'SCAN') return key === '' ? null : key;
  return null;
}

/** WeChat's retry key `FromUserName|CreateTime|Event|EventKey` (WECHAT.md §6), hashed to bound the key length. */
export function dedupeKey(message: PushedMessage): string {
  const parts = ['FromUserName', 'CreateTime', 'Event', 'EventKey'].map((name) => text(message, name) ?? '');
  return `wechat:dedupe:${createHash('sha256').update(parts.join('|')).digest('hex')}`;
}

// openids are 28 URL-safe characters; anything else did not come from WeChat and must not reach a Redis key.
const OPENID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Handle one QR event: deduplicated on WeChat's retry key, then applied to the ticket named by its scene.
 * If handling fails the dedupe mark is removed, so WeChat's retry can succeed: a retry that finds the ticket
 * already moved by this scanner publishes its state again, so a publish lost after the write is made good.
 */
export async function handleScanEvent(deps: ScanEventDeps, message: PushedMessage): Promise<ScanEventResult> {
  const scene = sceneOf(message);
  const openid = text(message, 'FromUserName') ?? '';
  if (!OPENID.test(openid)) return { kind: 'ignored', reply: null };
  if (text(message, 'Event') === 'unsubscribe') {
    // WeChat asks that a user's data go when they unfollow (WECHAT.md §5): the login counter is all we keep.
    await deps.engine.kv.delete(loginCountKey(openid));
    return { kind: 'ignored', reply: null };
  }
  if (scene === null) return { kind: 'ignored', reply: null };
  const mark = dedupeKey(message);
  if (!(await deps.engine.kv.setIfAbsent(mark, '1', DEDUPE_TTL_MS))) return { kind: 'duplicate', reply: null };
  try {
    return await applyScan(deps, scene, openid, text(message, 'Ticket'));
  } catch (error) {
    await deps.engine.kv.delete(mark).catch((cleanup: unknown) => {
      deps.logger.warn({ err: cleanup }, 'could not remove the dedupe mark of a failed scan; WeChat retries will be ignored');
    });
    throw error;
  }
}

async function applyScan(deps: ScanEventDeps, scene: string, openid: string, qrTicket: string | undefined): Promise<ScanEventResult> {
  // Only our own ids name tickets; anything else (an integer scene, a foreign code) is unknown.
  if (!ticketIdSchema.safeParse(scene).success) return { kind: 'unknown_scene', reply: unknownCodeText() };
  const at = deps.now();
  let foreignQr = false;
  const result = await deps.engine.tickets.apply(scene, (ticket) => {
    // The event's QR ticket must be the one we created for this scene (WECHAT.md §0.5): a mismatch means the
    // scene was lifted into another code, so the ticket is left exactly as it is.
    foreignQr = qrTicket !== undefined && qrTicket !== '' && ticket.qr.wechatTicket !== '' && qrTicket !== ticket.qr.wechatTicket;
    if (foreignQr) return { ok: true, changed: false, ticket };
    return transition(ticket, { type: 'scan', openid, at, mode: deps.confirmation, code: newLoginCode(ticket.id) });
  });
  if (!result.ok) {
    if (result.reason === 'not_found' || result.reason === 'expired') {
      return { kind: 'unknown_scene', ticketId: scene, reply: unknownCodeText() };
    }
    return { kind: 'refused', ticketId: scene, reply: refusedText() };
  }
  if (foreignQr) return { kind: 'unknown_scene', ticketId: scene, reply: unknownCodeText() };
  if (!result.changed) {
    // This scanner already moved the ticket. Either they scanned again, or this is WeChat's retry of a push
    // whose publish failed after the write (the dedupe mark was removed for exactly that retry): ring the
    // doorbell again. It is harmless when the browser was told already — gateways deliver each version once.
    if (result.ticket.openid === openid && (result.ticket.status === 'scanned' || result.ticket.status === 'confirmed')) {
      await ring(deps, result.ticket);
    }
    // The scanner lost the message: the same (still unused) link again, so they can still confirm.
    const link = result.ticket.status === 'scanned' ? confirmLinkOf(deps, result.ticket) : undefined;
    return { kind: 'ok', ticketId: scene, changed: false, reply: alreadyScannedByYouText(result.ticket.status, link) };
  }
  return { kind: 'ok', ticketId: scene, changed: true, reply: await announce(deps, result.ticket, openid, at) };
}

/**
 * Count the change the write made, ring the ticket's doorbell, and word the reply. Runs once per ticket (only
 * after a write that changed it), so the counts happen before the publish: if the publish fails, WeChat's
 * retry republishes on the unchanged path and must not count the same login again.
 */
async function announce(deps: ScanEventDeps, ticket: Ticket, openid: string, at: number): Promise<string> {
  deps.metrics.ticketsScanned.inc();
  if (ticket.status !== 'confirmed') {
    await ring(deps, ticket);
    const confirmUrl = confirmLinkOf(deps, ticket);
    return confirmRequestText({ browser: ticket.browser, at, ...(confirmUrl !== undefined ? { confirmUrl } : {}) });
  }
  deps.metrics.ticketsConfirmed.inc();
  // The count is a courtesy line in the reply: failing to keep it must not keep the browser from being told.
  const loginCount = await deps.engine.kv.increment(loginCountKey(openid)).catch((err: unknown) => {
    deps.logger.warn({ err }, 'could not count the login; the reply goes without the count');
    return undefined;
  });
  await ring(deps, ticket);
  return loginReplyText({ browser: ticket.browser, at, ...(loginCount !== undefined ? { loginCount } : {}) });
}

/** Publish the ticket's current state: the bus is a doorbell, so ringing it again for one version is harmless. */
async function ring(deps: ScanEventDeps, ticket: Ticket): Promise<void> {
  await deps.engine.events.publish({ ticket: ticket.id, status: ticket.status, version: ticket.version });
}

/** The signed one-time link for a scanned ticket, bound to its scanner and expiring with it. */
function confirmLinkOf(deps: ScanEventDeps, ticket: Ticket): string | undefined {
  if (deps.confirmationLinks === undefined || ticket.openid === undefined) return undefined;
  const { publicUrl, secret } = deps.confirmationLinks;
  return confirmationUrl(publicUrl, { ticketId: ticket.id, openid: ticket.openid, expiresAt: ticket.expiresAt }, secret);
}
