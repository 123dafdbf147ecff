/**
 * A QR scan push, translated: the WeChat message becomes one `login.scan()` plus the text the scanner reads.
 * Each delivery is handled through the delivery marks (`libs/login/delivery-marks.ts`), so WeChat's re-send
 * of a push whose handling died half-way is handled again, and the re-send of a finished one gets the same
 * reply without scanning twice. Knows nothing about HTTP or XML.
 */
import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../../libs/engine/engine.js';
import {
  createPhoneLinks,
  handleDelivery,
  phoneLinkUrl,
  type DeliveryClaimed,
  type DeliveryMarkOptions,
  type LoginService,
} from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { ticketIdSchema } from '../../libs/protocol/index.js';
import type { ConfirmationLinkConfig } from '../../libs/config/index.js';
import { confirmationUrl, type ConfirmationMode, type Ticket } from '../../libs/ticket/index.js';
import { alreadyScannedByYouText, confirmRequestText, loginReplyText, refusedText, unknownCodeText } from './scan-reply.js';
import type { ReplyTexts } from './reply-texts.js';

/** A pushed message as the `wechat` package flattens it: element name → text (or nested values). */
export type PushedMessage = Readonly<Record<string, unknown>>;

/** What happened to one scan event, and the text to send back (`null`: answer `success`). */
export type ScanEventResult =
  | { kind: 'ignored'; reply: null }
  /** An earlier delivery of this push finished: its reply again, nothing redone. */
  | { kind: 'duplicate'; ticketId?: string; reply: string | null }
  | { kind: 'unknown_scene'; ticketId?: string; reply: string }
  | { kind: 'refused'; ticketId: string; reply: string }
  | { kind: 'ok'; ticketId: string; changed: boolean; reply: string };

/** What the scan use case needs; `confirmation` decides between `scan` (log in now) and `tap`. */
export interface ScanEventDeps {
  login: LoginService;
  /** Where the delivery marks live (shared by every webhook instance). */
  kv: KeyValueStore;
  logger: Logger;
  confirmation: ConfirmationMode;
  /** The AppID this webhook answers for: a scan may move only the tickets whose QR code it issued. */
  appId: string;
  /** `tap` mode: signs the one-time link to the gateway's confirmation page. Unset: no link in the reply. */
  confirmationLinks?: ConfirmationLinkConfig;
  now: () => number;
  /** Lease and retention of the delivery marks. Default: `libs/login`'s. */
  marks?: DeliveryMarkOptions;
  /** The account's own reply texts (REPLY_TEXTS_FILE). Default: the built-in ones. */
  replyTexts?: ReplyTexts;
  /** PUBLIC_URL: the reply after a login links to the page of the user's signed-in browsers. Unset: no link. */
  publicUrl?: string;
}

/** Thrown when the ticket changed but its doorbell never rang: the push must be answered so WeChat re-sends it. */
export class DoorbellUnansweredError extends Error {
  constructor() {
    super('the ticket changed but its doorbell could not be rung');
    this.name = 'DoorbellUnansweredError';
  }
}

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
 * Handle one QR event, once per WeChat delivery key: applied to the ticket named by its scene. A failure
 * (including a doorbell that never rang) rejects, and leaves no mark that would stop WeChat's re-send; the
 * re-send finds the ticket moved by this scanner and rings it again.
 */
export async function handleScanEvent(
  deps: ScanEventDeps,
  message: PushedMessage,
  /** Settles when the push may be acted on (the replay mark checked), rejecting when it may not. Default: at once. */
  cleared: Promise<void> = Promise.resolve(),
): Promise<ScanEventResult> {
  const scene = sceneOf(message);
  const openid = text(message, 'FromUserName') ?? '';
  if (!OPENID.test(openid)) return { kind: 'ignored', reply: null };
  if (text(message, 'Event') === 'unsubscribe') {
    // WeChat asks that a user's data go when they unfollow (WECHAT.md §5): the login counter is all we keep.
    await cleared;
    await deps.login.counter.forget(openid);
    return { kind: 'ignored', reply: null };
  }
  if (scene === null) return { kind: 'ignored', reply: null };
  // WeChat always sends the scanned code's `Ticket` (WECHAT.md §5): a QR event without one did not come from it.
  const qrTicket = text(message, 'Ticket');
  if (qrTicket === undefined || qrTicket === '') return unknownScene(deps.replyTexts ?? {});
  // Only our own ids name tickets; anything else (an integer scene, a foreign code) is unknown.
  const known = ticketIdSchema.safeParse(scene).success;
  // The ticket is read while the delivery's marks are claimed (one round trip for both, not two in a row);
  // the read is used only if the delivery was ours at once (after waiting for another worker it is stale).
  const current = known ? deps.login.read(scene) : undefined;
  current?.catch(() => undefined);
  const work = async ({ waited }: DeliveryClaimed): Promise<ScanEventResult> => {
    await cleared;
    return known ? applyScan(deps, scene, openid, qrTicket, waited ? undefined : current) : unknownScene(deps.replyTexts ?? {});
  };
  const handled = await handleDelivery(deps.kv, dedupeKey(message), work, deps.marks);
  if (handled.fresh) return handled.value;
  const earlier = handled.value;
  return {
    kind: 'duplicate',
    reply: earlier.reply,
    ...('ticketId' in earlier && earlier.ticketId !== undefined ? { ticketId: earlier.ticketId } : {}),
  };
}

const unknownScene = (texts: ReplyTexts): ScanEventResult => ({ kind: 'unknown_scene', reply: unknownCodeText(texts) });

async function applyScan(
  deps: ScanEventDeps,
  scene: string,
  openid: string,
  qrTicket: string,
  current: Promise<Ticket | null> | undefined,
): Promise<ScanEventResult> {
  const texts = deps.replyTexts ?? {};
  const at = deps.now();
  const outcome = await deps.login.scan({
    ticketId: scene,
    openid,
    mode: deps.confirmation,
    qrTicket,
    appId: deps.appId,
    ...(current !== undefined ? { current } : {}),
  });
  switch (outcome.kind) {
    case 'unknown':
      return { kind: 'unknown_scene', ticketId: scene, reply: unknownCodeText(texts) };
    case 'refused':
      return { kind: 'refused', ticketId: scene, reply: refusedText(texts) };
    default:
      break;
  }
  // The write stands, but no gateway heard of it: fail, so WeChat's re-send rings again.
  if (!outcome.told) throw new DoorbellUnansweredError();
  const { ticket } = outcome;
  if (!outcome.changed) {
    // The scanner lost the message (or this is a re-run): the same (still unused) link again, so they can confirm.
    const link = ticket.status === 'scanned' ? confirmLinkOf(deps, ticket) : undefined;
    return { kind: 'ok', ticketId: scene, changed: false, reply: alreadyScannedByYouText(ticket.status, link, texts) };
  }
  if (outcome.kind === 'scanned') {
    const confirmUrl = confirmLinkOf(deps, ticket);
    return {
      kind: 'ok',
      ticketId: scene,
      changed: true,
      reply: confirmRequestText({ browser: ticket.browser, at, ...(confirmUrl !== undefined ? { confirmUrl } : {}) }, texts),
    };
  }
  const { loginCount } = outcome;
  const sessionsUrl = await sessionsLinkOf(deps, openid);
  return {
    kind: 'ok',
    ticketId: scene,
    changed: true,
    reply: loginReplyText(
      {
        browser: ticket.browser,
        at,
        ...(loginCount !== undefined ? { loginCount } : {}),
        ...(sessionsUrl !== undefined ? { sessionsUrl } : {}),
      },
      texts,
    ),
  };
}

/** The link to the user's signed-in browsers (issue 12); none without PUBLIC_URL or when the store refuses it. */
async function sessionsLinkOf(deps: ScanEventDeps, openid: string): Promise<string | undefined> {
  if (deps.publicUrl === undefined) return undefined;
  try {
    return phoneLinkUrl(deps.publicUrl, await createPhoneLinks(deps.kv).issue(openid));
  } catch (err) {
    // The login stands; the reply just goes without its link.
    deps.logger.warn({ err }, 'could not store the sessions link of a reply');
    return undefined;
  }
}

/** The signed one-time link for a scanned ticket, bound to its scanner and expiring with it. */
function confirmLinkOf(deps: ScanEventDeps, ticket: Ticket): string | undefined {
  if (deps.confirmationLinks === undefined || ticket.openid === undefined) return undefined;
  const { publicUrl, secret } = deps.confirmationLinks;
  return confirmationUrl(publicUrl, { ticketId: ticket.id, openid: ticket.openid, expiresAt: ticket.expiresAt }, secret);
}
