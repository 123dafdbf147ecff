/**
 * A load-generator process that is WeChat's server: it pushes signed plaintext `SCAN` events for real tickets
 * to a webhook over keep-alive HTTP, either at a fixed rate (scan → login latency) or as fast as a fixed
 * number of requests in flight allows (events per second). The same requests go to the bare `node:http`
 * floor, so both sides parse the same bytes.
 */
import { Agent, request } from 'node:http';
import { buildEventXml, signPush } from '../../libs/wechat/index.js';
import { paced, serveWorker, wallNow } from './worker-protocol.js';

/** The Official Account's original id, the `ToUserName` of every push. */
const ORIGINAL_ID = 'gh_qrgatebench0';

interface PushArgs {
  /** The webhook's `/wechat` URL (or the floor's); with several (one path), pushes go round-robin. */
  url: string | string[];
  /** The Token that signs pushes. */
  token: string;
  tickets: string[];
  /** WeChat's QR ticket of each scene (the `Ticket` element WeChat always sends); the floor needs none. */
  qrTickets?: Record<string, string>;
}

/** Answer of `pace` and `flood`. */
export interface PushResult {
  /** `[ticket, wall-clock ms the push was sent]` per push answered 200. */
  sent: Array<[string, number]>;
  /** Count of answers per HTTP status (`error` for transport failures). */
  statuses: Record<string, number>;
  elapsedMs: number;
}

const urlsOf = (args: PushArgs): string[] => (typeof args.url === 'string' ? [args.url] : args.url);

/** Sign every push up front, so the measured window holds only the HTTP work. */
function signAll(args: PushArgs): Array<{ ticket: string; path: string; body: string }> {
  const [first] = urlsOf(args);
  if (first === undefined) throw new Error('no URL to push to');
  const base = new URL(first);
  return args.tickets.map((ticket, i) => {
    const openid = `o_bench_${process.pid}_${i}`;
    const xml = buildEventXml({
      toUserName: ORIGINAL_ID,
      fromUserName: openid,
      createTime: Math.floor(Date.now() / 1000),
      event: 'SCAN',
      eventKey: ticket,
      ...(args.qrTickets?.[ticket] !== undefined ? { ticket: args.qrTickets[ticket] } : {}),
    });
    const signed = signPush(xml, { token: args.token, openid });
    return { ticket, path: `${base.pathname}?${signed.query}`, body: signed.body };
  });
}

function post(agent: Agent, url: URL, path: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

async function run(
  args: PushArgs,
  drive: (count: number, task: (i: number) => Promise<void>) => Promise<void>,
  maxSockets: number,
): Promise<PushResult> {
  const targets = urlsOf(args).map((url) => ({ url: new URL(url), agent: new Agent({ keepAlive: true, maxSockets }) }));
  const pushes = signAll(args);
  const sent: Array<[string, number]> = [];
  const statuses: Record<string, number> = {};
  const started = wallNow();
  await drive(pushes.length, async (i) => {
    const push = pushes[i]!;
    const at = wallNow();
    let status: string;
    try {
      const target = targets[i % targets.length];
      if (target === undefined) throw new Error('no URL to push to');
      status = String(await post(target.agent, target.url, push.path, push.body));
    } catch {
      status = 'error';
    }
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status === '200') sent.push([push.ticket, at]);
  });
  const elapsedMs = wallNow() - started;
  for (const target of targets) target.agent.destroy();
  return { sent, statuses, elapsedMs };
}

/** One push per ticket at `rate` per second, on schedule. */
function pace(args: PushArgs & { rate: number }): Promise<PushResult> {
  return run(args, (count, task) => paced(count, args.rate, task), 512);
}

/** One push per ticket, `concurrency` in flight, as fast as the server answers. */
function flood(args: PushArgs & { concurrency: number }): Promise<PushResult> {
  return run(
    args,
    async (count, task) => {
      let next = 0;
      const loop = async (): Promise<void> => {
        while (next < count) await task(next++);
      };
      await Promise.all(Array.from({ length: args.concurrency }, loop));
    },
    args.concurrency,
  );
}

serveWorker({ pace, flood });
