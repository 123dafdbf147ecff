/**
 * WeChat's server as the fault suite needs it: push a signed `SCAN` event and, when no good answer comes, send
 * the very same request again (same query string, same body) — on a 5xx, a dropped connection or no answer
 * within the deadline — up to three deliveries in all, the next one about `gapMs` after the previous one
 * started (WECHAT.md §6). `twoAtOnce` sends the first delivery twice at the same moment, as WeChat sometimes
 * does. The simulator's own sender (apps/wechat-sim/sim-push.ts) behaves alike; this one is scripted by the
 * scenarios and reports every delivery.
 */
import { buildEventXml, readReply, signPush } from '../../../libs/wechat/index.js';
import { SCALE_CREDENTIALS } from '../../support/cluster.js';

/** The Official Account's original id, the `ToUserName` of every push (as in test/support/cluster.ts). */
const ORIGINAL_ID = 'gh_qrgatescale00';

export interface SendOptions {
  /** Deliveries in all, the first included. Default 3. */
  maxDeliveries?: number;
  /** From one delivery's start to the next one's; also each delivery's deadline. Default 5000 (WeChat). */
  gapMs?: number;
  /** Send the first delivery twice at once. Default false. */
  twoAtOnce?: boolean;
}

export interface Delivery {
  /** HTTP status, or 0 for no answer. */
  status: number;
  error?: string;
}

export interface SendResult {
  deliveries: Delivery[];
  /** Some delivery got a 2xx/4xx answer (WeChat stops re-sending). */
  answered: boolean;
  /** The text the scanner read (null for `success` or no answer). */
  reply: string | null;
}

/**
 * Push the scan of `scene` by `openid` to `webhookUrl` (the `/wechat` URL) the way WeChat does, with the
 * code's QR ticket (`qrTicket`, the `Ticket` element WeChat always sends).
 */
export async function sendScan(
  webhookUrl: string,
  input: { scene: string; openid: string; qrTicket: string },
  options: SendOptions = {},
): Promise<SendResult> {
  const maxDeliveries = options.maxDeliveries ?? 3;
  const gapMs = options.gapMs ?? 5_000;
  const xml = buildEventXml({
    toUserName: ORIGINAL_ID,
    fromUserName: input.openid,
    createTime: Math.floor(Date.now() / 1000),
    event: 'SCAN',
    eventKey: input.scene,
    ticket: input.qrTicket,
  });
  // Signed once: every re-send carries the same timestamp, nonce and signature.
  const signed = signPush(xml, { token: SCALE_CREDENTIALS.WECHAT_TOKEN, openid: input.openid });
  const url = `${webhookUrl}?${signed.query}`;
  const deliveries: Delivery[] = [];
  const deliverOnce = async (): Promise<{ status: number; body: string } | null> => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), gapMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: signed.body,
        signal: controller.signal,
      });
      const body = await res.text();
      deliveries.push({ status: res.status });
      return { status: res.status, body };
    } catch (err) {
      deliveries.push({ status: 0, error: controller.signal.aborted ? `no answer within ${gapMs} ms` : String(err) });
      return null;
    } finally {
      clearTimeout(timer);
    }
  };
  for (let attempt = 0; attempt < maxDeliveries; attempt++) {
    const started = Date.now();
    const copies = attempt === 0 && options.twoAtOnce === true ? 2 : 1;
    const answers = await Promise.all(Array.from({ length: copies }, deliverOnce));
    const good = answers.find((a): a is { status: number; body: string } => a !== null && a.status < 500);
    if (good !== undefined) {
      return { deliveries, answered: true, reply: good.status === 200 ? readReply(good.body).content : null };
    }
    const wait = started + gapMs - Date.now();
    if (attempt + 1 < maxDeliveries && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return { deliveries, answered: false, reply: null };
}

/**
 * WeChat's QR ticket of a scene, as the simulator at `simUrl` (WeChat's API here, it made the codes) lists them:
 * read once per new scene (a miss reads the list again, one read at a time shared by every scan waiting on it).
 */
export function qrTicketLookup(simUrl: string): (scene: string) => Promise<string> {
  const known = new Map<string, string>();
  let reading: Promise<void> | undefined;
  const read = async (): Promise<void> => {
    const res = await fetch(`${simUrl}/sim/api/codes`);
    if (!res.ok) throw new Error(`the simulator did not list its codes: ${res.status}`);
    for (const code of (await res.json()) as Array<{ scene: string; qrTicket: string }>) known.set(code.scene, code.qrTicket);
  };
  return async (scene) => {
    // Twice at most: a read already under way may have started before this scene's code was made.
    for (let attempt = 0; attempt < 2 && !known.has(scene); attempt++) {
      reading ??= read().finally(() => {
        reading = undefined;
      });
      await reading;
    }
    const qrTicket = known.get(scene);
    if (qrTicket === undefined) throw new Error(`the simulator made no code for scene ${scene}`);
    return qrTicket;
  };
}
