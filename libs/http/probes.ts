/**
 * The probes every app serves, written once: `/healthz` (the process answers) and `/readyz` (it can do its work:
 * not draining, and its store answers within a deadline). Metrics are not here: they have their own port
 * (`libs/runtime/metrics-server.ts`). Bodies are plain
 * text so a load balancer and a person read the same thing.
 */
import type Router from '@koa/router';
import { withTimeout } from '../runtime/with-timeout.js';

export interface ProbeOptions {
  /** Resolves when the app's store answers; absent for an app that depends on nothing. */
  ping?(): Promise<void>;
  /** True while the process drains: it is alive but takes no new work. */
  isDraining?(): boolean;
  /** How long `/readyz` waits for `ping`, ms. Default {@link READY_TIMEOUT_MS}. */
  readyTimeoutMs?: number;
}

/** A ping slower than this counts as down: a load balancer's probe would time out on it anyway. */
export const READY_TIMEOUT_MS = 2_000;

/** Mount `GET /healthz` and `GET /readyz`. */
export function mountProbes(router: Router, options: ProbeOptions): void {
  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  router.get('/healthz', (ctx) => {
    ctx.type = 'text/plain';
    ctx.body = 'ok';
  });
  router.get('/readyz', async (ctx) => {
    ctx.type = 'text/plain';
    if (options.isDraining?.() === true) {
      ctx.status = 503;
      ctx.body = 'draining';
      return;
    }
    const ping = options.ping;
    const up =
      ping === undefined
        ? true
        : await withTimeout(
            ping().then(
              () => true,
              () => false,
            ),
            readyTimeoutMs,
          );
    ctx.status = up === true ? 200 : 503;
    // A slow store and a failing one read the same: either way this process cannot do its work now.
    ctx.body = up === true ? 'ready' : 'engine unavailable';
  });
}
