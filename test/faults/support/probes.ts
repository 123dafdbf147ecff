/**
 * The two outside views a scenario needs besides the browsers: a prober that keeps asking for a new ticket
 * through the balancer (how long were new logins refused?) and the store's final word on each ticket.
 */
import { Cluster, Redis } from 'ioredis';
import { io } from 'socket.io-client';

export interface Prober {
  /** Stop probing; the total time new browsers were refused a ticket, ms. */
  stop(): Promise<number>;
}

/** Every `everyMs`, open a fresh WebSocket browser and wait up to `waitMs` for its ticket. */
export function startProber(url: string, everyMs = 250, waitMs = 3_000): Prober {
  const results: Array<{ at: number; ok: boolean }> = [];
  const inflight = new Set<Promise<void>>();
  const probe = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const at = Date.now();
      const socket = io(`${url}/login`, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: waitMs });
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        socket.close();
        results.push({ at, ok });
        resolve();
      };
      const timer = setTimeout(() => done(false), waitMs);
      socket.once('ticket', () => done(true));
      socket.once('connect_error', () => done(false));
    });
  const interval = setInterval(() => {
    const p = probe();
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }, everyMs);
  return {
    async stop() {
      clearInterval(interval);
      await Promise.all([...inflight]);
      return refusedMs(results);
    },
  };
}

/** From each failed probe to the next probe that started later and succeeded: the time new logins were refused. */
export function refusedMs(results: ReadonlyArray<{ at: number; ok: boolean }>): number {
  const sorted = [...results].sort((a, b) => a.at - b.at);
  let total = 0;
  let since: number | undefined;
  for (const r of sorted) {
    if (!r.ok && since === undefined) since = r.at;
    if (r.ok && since !== undefined) {
      total += r.at - since;
      since = undefined;
    }
  }
  if (since !== undefined) total += (sorted.at(-1)?.at ?? since) - since;
  return total;
}

/** Each ticket's status in the store (standalone `REDIS_URL` or `REDIS_CLUSTER_NODES`); gone tickets are absent. */
export async function readStatuses(engineEnv: Record<string, string>, tickets: Iterable<string>): Promise<Map<string, string>> {
  const seeds = engineEnv.REDIS_CLUSTER_NODES;
  const client =
    seeds !== undefined
      ? new Cluster(seeds.split(',').map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) })))
      : new Redis(engineEnv.REDIS_URL ?? '');
  client.on('error', () => undefined);
  const statuses = new Map<string, string>();
  try {
    for (const ticket of new Set(tickets)) {
      const json = await client.get(`qrgate:{${ticket}}:ticket`);
      if (json !== null) statuses.set(ticket, String((JSON.parse(json) as { status?: unknown }).status));
    }
  } finally {
    client.disconnect();
  }
  return statuses;
}

export interface LagSampler {
  /** Stop sampling; the worst event-loop delay each app reported, ms, by label. */
  stop(): Record<string, number>;
}

/**
 * Every second, read each app's `nodejs_eventloop_lag_max_seconds` (prom-client resets it on each scrape, so
 * it is the worst delay since the last read). Not a check: it says, next to a bad count, how busy the apps were.
 */
export function startLagSampler(apps: () => Array<{ label: string; metricsUrl: string | undefined }>): LagSampler {
  const worst: Record<string, number> = {};
  const sample = async (): Promise<void> => {
    await Promise.all(
      apps().map(async ({ label, metricsUrl }) => {
        if (metricsUrl === undefined) return;
        const text = await fetch(`${metricsUrl}/metrics`, { signal: AbortSignal.timeout(5_000) })
          .then((res) => res.text())
          .catch(() => '');
        const lag = Number(/^nodejs_eventloop_lag_max_seconds (\S+)/m.exec(text)?.[1] ?? Number.NaN) * 1000;
        if (Number.isFinite(lag)) worst[label] = Math.max(worst[label] ?? 0, Math.round(lag));
      }),
    );
  };
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      await Promise.all([sample(), new Promise((resolve) => setTimeout(resolve, 1_000))]);
    }
  };
  void loop();
  return {
    stop() {
      running = false;
      return { ...worst };
    },
  };
}
