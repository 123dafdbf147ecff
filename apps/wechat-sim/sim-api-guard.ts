/**
 * The phone's JSON API (`/sim/api/*`) answers only its own page. In the demo it is what logs anyone in, so
 * another site open in the same browser must not drive it: a request whose Origin (or, without one, whose
 * `Sec-Fetch-Site`) says another site is refused 403, and a POST that is not `application/json` (what an
 * HTML form or a no-preflight `fetch` from another site can send) is refused 415. Tools that send no Origin
 * (curl, the tests) are not a browser on another site and pass. Refusals change nothing.
 */
import type { Context, Next } from 'koa';
import { httpError } from '../../libs/http/index.js';

const API_PREFIX = '/sim/api/';

/** True when `origin` names the host this request was sent to (the scheme may differ behind a TLS proxy). */
function sameHost(origin: string, host: string): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

export async function simApiGuard(ctx: Context, next: Next): Promise<void> {
  if (!ctx.path.startsWith(API_PREFIX)) return next();
  const origin = ctx.get('origin');
  if (origin !== '' && !sameHost(origin, ctx.host)) {
    throw httpError(403, 'cross-origin request refused: /sim/api accepts requests from the simulator page only');
  }
  const site = ctx.get('sec-fetch-site');
  if (origin === '' && site !== '' && site !== 'same-origin' && site !== 'none') {
    throw httpError(403, 'cross-site request refused: /sim/api accepts requests from the simulator page only');
  }
  if (ctx.method === 'POST' && ctx.request.type !== 'application/json') {
    throw httpError(415, 'expected Content-Type: application/json');
  }
  return next();
}
