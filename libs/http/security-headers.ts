/**
 * The response headers a security review expects, set for every response of every app (helmet): `nosniff`, no `X-Powered-By`, a default CSP that forbids everything including being
 * framed (a page sent by `sendPage` replaces it with its own nonce policy), `Referrer-Policy: no-referrer`, and
 * HSTS when the public URL is https (a plain-HTTP deployment must not pin browsers to a scheme it lacks).
 *
 * Cross-origin resource and opener policies stay off: sites in ALLOWED_ORIGINS load the client bundle with a
 * plain `<script src>` and may open the login page in a popup.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { Middleware } from 'koa';

export interface SecurityHeadersOptions {
  /** PUBLIC_URL: HSTS is sent when it is https. Default: none (no HSTS). */
  publicUrl?: string;
}

/** HSTS lifetime: one year, the value preload lists and reviews ask for. */
export const HSTS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

/** What every response that is not a page with its own policy gets: nothing may load, nothing may frame it. */
export const DEFAULT_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

export function securityHeaders(options: SecurityHeadersOptions = {}): Middleware {
  const https = options.publicUrl?.startsWith('https:') ?? false;
  const { set, removed } = headersOf(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
      },
      strictTransportSecurity: https ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false } : false,
      crossOriginResourcePolicy: false,
      crossOriginOpenerPolicy: false,
      crossOriginEmbedderPolicy: false,
      xFrameOptions: { action: 'deny' },
    }),
  );
  // Every directive above is a constant, so helmet's answer is the same for every request: it is asked once,
  // here, and each response gets the list (helmet's dozen middleware calls per request were ~4 % of the
  // webhook's CPU per push).
  return async (ctx, next) => {
    for (const [name, value] of set) ctx.res.setHeader(name, value);
    for (const name of removed) ctx.res.removeHeader(name);
    await next();
  };
}

type ConnectMiddleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void;

/** The headers `middleware` sets and removes, recorded on a response that is never sent. */
function headersOf(middleware: ConnectMiddleware): { set: Array<[string, string | string[]]>; removed: string[] } {
  const set = new Map<string, string | string[]>();
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: number | string | readonly string[]) {
      set.set(name, typeof value === 'number' ? String(value) : Array.isArray(value) ? [...value] : (value as string));
      return recorder;
    },
    removeHeader(name: string) {
      set.delete(name);
      removed.push(name);
    },
  };
  let finished = false;
  middleware({ method: 'GET', url: '/', headers: {} } as IncomingMessage, recorder as unknown as ServerResponse, (error) => {
    if (error !== undefined) throw error;
    finished = true;
  });
  // helmet runs synchronously; anything else would mean headers that depend on the request.
  if (!finished) throw new Error('helmet did not finish synchronously');
  return { set: [...set], removed };
}
