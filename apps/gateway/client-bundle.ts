/**
 * `GET /client/qrgate.js` (and its source map): the browser client bundled by scripts/bundle-client.mjs,
 * public so that other origins can embed it as a module script.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type Router from '@koa/router';
import type { RouterMiddleware } from '@koa/router';

/** Public path of the client module. */
export const CLIENT_BUNDLE_ROUTE = '/client/qrgate.js';

/**
 * Where the bundle may be, relative to this module: next to the compiled gateway (`dist/apps/gateway` →
 * `dist/client`), or, when the sources run directly (tests), in the repository's `dist/client`.
 */
const CANDIDATE_DIRS = ['../../client/', '../../dist/client/'];

interface Asset {
  body: Buffer;
  etag: string;
}

/** Mount the bundle routes. Files are read once, on first request, and kept in memory. */
export function mountClientBundle(router: Router): void {
  const cache = new Map<string, Promise<Asset | null>>();
  const load = (file: string): Promise<Asset | null> => {
    let pending = cache.get(file);
    if (pending === undefined) {
      pending = readFirst(file);
      cache.set(file, pending);
      // A missing bundle may be built later (npm run build while the server runs): do not remember the miss.
      pending.then((asset) => asset === null && cache.delete(file)).catch(() => cache.delete(file));
    }
    return pending;
  };

  const serve =
    (file: string, type: string): RouterMiddleware =>
    async (ctx) => {
      const asset = await load(file);
      if (asset === null) {
        ctx.status = 404;
        ctx.body = { error: 'client bundle not built (npm run build)' };
        return;
      }
      ctx.set('Access-Control-Allow-Origin', '*');
      // A module script on another origin needs CORS; a page with COEP also needs this to load it.
      ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
      ctx.set('X-Content-Type-Options', 'nosniff');
      // The URL is not versioned: cache briefly, then revalidate cheaply by ETag.
      ctx.set('Cache-Control', 'public, max-age=300, stale-while-revalidate=60');
      ctx.set('ETag', asset.etag);
      ctx.type = type;
      // Koa only evaluates conditional requests for a success status.
      ctx.status = 200;
      if (ctx.fresh) {
        ctx.status = 304;
        return;
      }
      ctx.body = asset.body;
    };

  router.get(CLIENT_BUNDLE_ROUTE, serve('qrgate.js', 'application/javascript; charset=utf-8'));
  router.get(`${CLIENT_BUNDLE_ROUTE}.map`, serve('qrgate.js.map', 'application/json; charset=utf-8'));
}

async function readFirst(file: string): Promise<Asset | null> {
  for (const dir of CANDIDATE_DIRS) {
    try {
      const body = await readFile(new URL(dir + file, import.meta.url));
      return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return null;
}
