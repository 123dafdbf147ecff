/**
 * The fault scenarios of issue 9, each a function of the size, shared by `npm test` (small, vitest files in
 * test/faults/) and `npm run test:faults` (full size, test/faults/run.ts). A scenario starts its own engine,
 * stack and browsers, hurts one thing, scans every browser (or half of them) as WeChat would, waits for the
 * dust to settle, counts, and stops everything it started, also when it fails.
 */
import { mapLimit } from '../../support/cluster.js';
import { OPEN_WAVE, startFleet, type BrowserRecord, type Fleet } from './browser-fleet.js';
import { startFaultStack, type FaultStack } from './fault-stack.js';
import { readStatuses, startLagSampler, startProber } from './probes.js';
import { startFaultCluster, startRedisNode, waitFor, type FaultCluster } from './redis-nodes.js';
import { tally, type Tally } from './tally.js';
import { qrTicketLookup, sendScan, type SendOptions } from './wechat-server.js';

/** How big a run is. */
export interface Size {
  /** Concurrent browsers waiting when the fault hits. */
  browsers: number;
  /** Worker processes the browsers are spread over. */
  workers: number;
  /** Scans pushed at once. */
  scanConcurrency: number;
}

/** `npm test`: a few dozen browsers, so the six scenarios stay within CI's budget. */
export const SMALL: Size = { browsers: 24, workers: 1, scanConcurrency: 12 };
/** `npm run test:faults`: over a thousand concurrent logins over four processes. */
export const FULL: Size = { browsers: 1_200, workers: 4, scanConcurrency: 100 };

/** A scenario's counts plus the log lines that must not exist. */
export interface ScenarioResult {
  tally: Tally;
  /** App log lines mentioning an unhandled rejection or an uncaught exception. */
  crashLines: string[];
  /** The last app log lines, to explain a failure. */
  logTail: string;
  /** What the first bad browsers saw, compactly, to explain a failure. */
  badBrowsers: string[];
  /** Confirmation taps (tap mode) the simulated user made again because the page did not answer 200. */
  tapRetries: number;
  /** The worst event-loop delay each gateway and webhook reported during the scenario, ms, by label. */
  worstLagMs: Record<string, number>;
}

interface ScanAllOptions extends SendOptions {
  /** Runs as each scan starts. */
  around?: (browser: BrowserRecord) => void;
  /** Spread the scans over about this long, ms, so a fault lands in the middle of them. Default 0. */
  overMs?: number;
  /** Scans at once. Default `size.scanConcurrency`. */
  concurrency?: number;
  /** Runs as each scan got its answer (or gave up). */
  after?: (browser: BrowserRecord) => void;
}

/** What a scenario's body can use. */
interface Run {
  size: Size;
  stack: FaultStack;
  fleet: Fleet;
  browsers: BrowserRecord[];
  engineEnv: Record<string, string>;
  /** Mark the moment the fault hits. */
  fault(): void;
  /** Scan `browser`'s current ticket as WeChat's server would (or through the phone in `tap` mode). */
  scan(browser: BrowserRecord, options?: SendOptions): Promise<void>;
  /** Scan these browsers, `scanConcurrency` at a time; `around` runs as each scan starts. */
  scanAll(browsers: readonly BrowserRecord[], options?: ScanAllOptions): Promise<void>;
}

interface ScenarioSpec {
  name: string;
  engine: 'redis' | 'cluster';
  confirmation?: 'scan' | 'tap';
  /** How long scanned browsers may take to log in once the body is done, ms. Default 15 000. */
  settleMs?: number;
  body(run: Run, hooks: { redis?: Awaited<ReturnType<typeof startRedisNode>>; cluster?: FaultCluster }): Promise<void>;
}

const SIGNED_IN = '扫码登录成功';
/** Taps a user makes before giving up on a confirmation page that keeps failing. */
const TAP_ATTEMPTS = 3;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function runScenario(spec: ScenarioSpec, size: Size): Promise<ScenarioResult> {
  let redis: Awaited<ReturnType<typeof startRedisNode>> | undefined;
  let cluster: FaultCluster | undefined;
  let stack: FaultStack | undefined;
  let fleet: Fleet | undefined;
  try {
    if (spec.engine === 'redis') redis = await startRedisNode();
    else cluster = await startFaultCluster();
    const engineEnv: Record<string, string> = redis !== undefined ? { REDIS_URL: redis.url } : { REDIS_CLUSTER_NODES: cluster!.seeds };
    stack = await startFaultStack({ engineEnv, confirmation: spec.confirmation ?? 'scan' });
    fleet = await startFleet(size.workers);
    const browsers = await fleet.open(stack.url, size.browsers, 120_000);
    const scans = new Map<number, { ticket: string; toldSignedIn: boolean }>();
    const deliveries = new Map<number, string>();
    let tapRetries = 0;
    let faultAt = Number.POSITIVE_INFINITY;
    const liveStack = stack;
    const liveFleet = fleet;
    const qrTicketOf = qrTicketLookup(stack.sim.url);
    const scan = async (browser: BrowserRecord, options: SendOptions = {}): Promise<void> => {
      const ticket = browser.current!.ticket;
      scans.set(browser.id, { ticket, toldSignedIn: false });
      if (spec.confirmation === 'tap') {
        // The phone: WeChat pushes the scan (re-sending like WeChat), then the user opens the link and taps Confirm.
        // A tap whose page did not answer 200 shows the user an error, and they scan and tap again (counted).
        for (let attempt = 1; ; attempt++) {
          const confirmed = await fetch(`${liveStack.sim.url}/sim/api/scan`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ scene: ticket, openid: `o_fault_${browser.id}`, tap: 'confirm' }),
          }).then(
            async (res) =>
              ((await res.json().catch(() => ({}))) as { tapped?: { submitted?: { status?: number } | null } }).tapped?.submitted
                ?.status === 200,
            () => false,
          );
          if (confirmed || attempt === TAP_ATTEMPTS) return;
          tapRetries += 1;
          await sleep(1_000);
        }
      }
      const qrTicket = await qrTicketOf(ticket);
      const sent = await sendScan(`${liveStack.url}/wechat`, { scene: ticket, openid: `o_fault_${browser.id}`, qrTicket }, options);
      scans.set(browser.id, { ticket, toldSignedIn: sent.reply?.includes(SIGNED_IN) === true });
      deliveries.set(browser.id, sent.deliveries.map((d) => d.status || (d.error ?? 'none')).join(','));
    };
    const run: Run = {
      size,
      stack,
      fleet,
      browsers,
      engineEnv,
      fault: () => {
        faultAt = Math.min(faultAt, Date.now());
      },
      scan,
      async scanAll(targets, options = {}) {
        const concurrency = options.concurrency ?? size.scanConcurrency;
        const paceMs = ((options.overMs ?? 0) * concurrency) / Math.max(1, targets.length);
        await mapLimit(targets, concurrency, async (browser) => {
          if (paceMs > 0) await sleep(Math.random() * 2 * paceMs);
          options.around?.(browser);
          await scan(browser, options);
          options.after?.(browser);
        });
      },
    };
    const prober = startProber(stack.url);
    const lag = startLagSampler(() =>
      [...liveStack.gateways, ...liveStack.webhooks].map((slot) => ({ label: slot.label, metricsUrl: slot.current()?.metricsUrl })),
    );
    let worstLagMs: Record<string, number> = {};
    let refused = 0;
    try {
      await spec.body(run, { ...(redis !== undefined ? { redis } : {}), ...(cluster !== undefined ? { cluster } : {}) });
      // Every scanned browser should end logged in on the ticket it holds; the others only need a live QR code.
      const settled = (b: BrowserRecord): boolean => {
        if (!scans.has(b.id)) return true;
        const final = b.current?.ticket;
        return b.events.some((e) => e.ev === 'exchange' && e.ticket === final);
      };
      await fleet.until('scanned browsers log in', () => liveFleet.browsers.every(settled), spec.settleMs ?? 15_000).catch(() => undefined);
      // A duplicate delivery would arrive within moments of the first one.
      await sleep(1_000);
    } finally {
      refused = await prober.stop();
      worstLagMs = lag.stop();
    }
    const storeStatus = await readStatuses(
      engineEnv,
      [...scans.values()].map((s) => s.ticket),
    ).catch(() => new Map<string, string>());
    const logs = stack.logs();
    const row = tally({ scenario: spec.name, browsers: fleet.browsers, scans, storeStatus, faultAt, refusedMs: refused });
    // Two of each kind, so a run that both loses and strands logins explains both.
    const bad = [...row.examples.lost.slice(0, 2), ...row.examples.duplicated.slice(0, 2), ...row.examples.stuck.slice(0, 2)];
    return {
      tally: row,
      badBrowsers: bad.map(
        (id) => `${describeBrowser(fleet!.browsers[id]!, scans.get(id), storeStatus, faultAt)}\n  deliveries: ${deliveries.get(id) ?? '-'}`,
      ),
      tapRetries,
      worstLagMs,
      crashLines: stack.crashLines(),
      logTail: logs
        .slice(-12)
        .map((line) => line.slice(0, 300))
        .join('\n'),
    };
  } finally {
    try {
      await fleet?.close();
    } finally {
      try {
        await stack?.stop();
      } finally {
        await redis?.remove();
        await cluster?.remove();
      }
    }
  }
}

/** One line per event, times relative to the fault, tickets shortened. */
function describeBrowser(
  browser: BrowserRecord,
  scan: { ticket: string; toldSignedIn: boolean } | undefined,
  store: ReadonlyMap<string, string>,
  faultAt: number,
): string {
  const short = (t: string): string => t.slice(0, 6);
  const events = browser.events.map((e) => {
    const { id: _id, at, ev, ...rest } = e;
    const detail = Object.entries(rest)
      // A login's code is a credential; a refusal's code is what the gateway said.
      .filter(([k]) => k !== 'secret' && (k !== 'code' || ev === 'refused'))
      .map(([k, v]) => `${k}=${k === 'ticket' ? short(String(v)) : String(v)}`)
      .join(' ');
    return `${at - faultAt}ms ${ev} ${detail}`;
  });
  const scanned = scan === undefined ? 'not scanned' : `scanned ${short(scan.ticket)} (store: ${store.get(scan.ticket) ?? 'gone'})`;
  return `browser ${browser.id} (${browser.transport}, ${browser.connected ? 'connected' : 'disconnected'}), ${scanned}:\n  ${events.join('\n  ')}`;
}

const pick = <T>(items: readonly T[], share: number): T[] => items.filter((_, i) => i % Math.round(1 / share) === 0);

/** a. Browsers' connections drop at random moments around their scan (tap mode: the phone confirms). */
export function socketDrops(size: Size): Promise<ScenarioResult> {
  return runScenario(
    {
      name: 'a. socket drops around the scan (tap)',
      engine: 'redis',
      confirmation: 'tap',
      async body(run) {
        run.fault();
        await run.scanAll(run.browsers, {
          overMs: 3_000,
          around: (browser) => {
            // Up to 400 ms before or after the scan starts, once or twice.
            setTimeout(() => run.fleet.drop(browser.id), Math.random() * 400);
            if (browser.id % 3 === 0) setTimeout(() => run.fleet.drop(browser.id), 400 + Math.random() * 800);
          },
        });
      },
    },
    size,
  );
}

/** b. One gateway SIGKILLed and another SIGTERMed (drain) while browsers wait and scans arrive; both come back as a Deployment's would. */
export function gatewayDeaths(size: Size): Promise<ScenarioResult> {
  return runScenario(
    {
      name: 'b. gateway SIGKILL + SIGTERM',
      engine: 'redis',
      async body(run) {
        const [killed, drained] = run.stack.gateways;
        const half = Math.floor(run.browsers.length / 2);
        const first = run.scanAll(run.browsers.slice(0, half), { overMs: 3_000 });
        await sleep(1_000);
        run.fault();
        // As a Deployment does: the killed container is restarted a moment later, and the drained pod, once
        // gone, is replaced. Until then one gateway holds every browser.
        await Promise.all([
          first,
          killed!.kill('SIGKILL').then(async () => {
            await sleep(2_000);
            await killed!.restart();
          }),
          drained!.kill('SIGTERM', 25_000).then(() => drained!.restart()),
        ]);
        // The rest are scanned once the browsers found the surviving gateway.
        await run.scanAll(run.browsers.slice(half));
      },
    },
    size,
  );
}

/** c. A webhook SIGKILLed mid-burst and started again; WeChat re-sends (three deliveries 5 s apart, some doubled). */
export function webhookKill(size: Size): Promise<ScenarioResult> {
  return runScenario(
    {
      name: 'c. webhook SIGKILL mid-burst',
      engine: 'redis',
      settleMs: 20_000,
      async body(run) {
        const [victim] = run.stack.webhooks;
        // The whole burst at once; the kill lands when a quarter has been answered, so the webhook holds
        // scans at every stage of their handling. One scan in four arrives as two deliveries at once.
        let answered = 0;
        let killed: Promise<unknown> | undefined;
        const after = (): void => {
          answered += 1;
          if (killed === undefined && answered >= run.browsers.length / 4) {
            run.fault();
            killed = victim!.kill('SIGKILL').then(async () => {
              await sleep(1_000);
              await victim!.restart();
            });
          }
        };
        const all = run.browsers.length;
        const doubled = run.browsers.filter((b) => b.id % 4 === 1);
        const single = run.browsers.filter((b) => b.id % 4 !== 1);
        await Promise.all([
          run.scanAll(single, { after, concurrency: all }),
          run.scanAll(doubled, { after, concurrency: all, twoAtOnce: true }),
        ]);
        await killed;
      },
    },
    size,
  );
}

/** d. Redis SIGKILLed and started again empty (no persistence) while browsers wait; half are scanned after. */
export function redisRestart(size: Size): Promise<ScenarioResult> {
  return runScenario(
    {
      name: 'd. Redis restarted without persistence',
      engine: 'redis',
      async body(run, { redis }) {
        const before = new Map(run.browsers.map((b) => [b.id, b.current?.ticket]));
        run.fault();
        await redis!.kill();
        await sleep(500);
        await redis!.start();
        // Every browser was told its QR code is dead (the tally counts one that was not within a few seconds as
        // stuck) and asks for a new one; a person scans the code their page shows, so the scans wait for it. How
        // long new tickets were refused after the restart is the row's "new logins refused".
        await run.fleet
          .until(
            'every browser shows a new QR code',
            () => run.browsers.every((b) => b.current !== undefined && b.current.ticket !== before.get(b.id)),
            60_000,
          )
          .catch(() => undefined);
        await run.scanAll(pick(run.browsers, 0.5).filter((b) => b.current !== undefined && b.current.ticket !== before.get(b.id)));
      },
    },
    size,
  );
}

/** e. A Redis Cluster master SIGKILLed after its replica finished its first sync; scans keep coming. */
export function clusterFailover(size: Size): Promise<ScenarioResult> {
  return runScenario(
    {
      name: 'e. cluster master SIGKILL (failover)',
      engine: 'cluster',
      settleMs: 25_000,
      async body(run, { cluster }) {
        const { master } = await cluster!.syncedMaster();
        const half = Math.floor(run.browsers.length / 2);
        const first = run.scanAll(run.browsers.slice(0, half), { overMs: 4_000 });
        await sleep(1_000);
        run.fault();
        await master.kill();
        await first;
        await waitFor('the replica takes over', 30_000, () => cluster!.healthy());
        await run.scanAll(run.browsers.slice(half));
      },
    },
    size,
  );
}

/** f. The WeChat API slow (6 s), then failing (500), then healthy, while new browsers keep arriving. */
export function wechatApiFaults(size: Size): Promise<ScenarioResult> {
  return runScenario(
    {
      name: 'f. WeChat API slow, 500, healthy',
      engine: 'redis',
      settleMs: 20_000,
      async body(run) {
        const arrivals = Math.max(4, Math.floor(run.browsers.length / 4));
        // Browsers arrive in waves of OPEN_WAVE, each waiting for its codes; a slow API slows every wave.
        const arrivalMs = 45_000 + Math.ceil(arrivals / OPEN_WAVE) * 10_000;
        run.fault();
        await run.stack.apiFaults({ apiDelayMs: 6_000 });
        const slow = run.fleet.open(run.stack.url, arrivals, arrivalMs);
        const waiting = run.scanAll(run.browsers.slice(0, Math.floor(run.browsers.length / 2)));
        await sleep(7_000);
        await run.stack.apiFaults({ apiStatus: 500 });
        const failing = run.fleet.open(run.stack.url, arrivals, arrivalMs);
        await sleep(3_000);
        await run.stack.apiFaults({});
        const late = [...(await slow), ...(await failing)];
        await waiting;
        await run.scanAll([...run.browsers.slice(Math.floor(run.browsers.length / 2)), ...late]);
      },
    },
    size,
  );
}

export const SCENARIOS = [socketDrops, gatewayDeaths, webhookKill, redisRestart, clusterFailover, wechatApiFaults] as const;
