/**
 * The response headers a security review expects, set once for every response of every app (koa-helmet, the
 * Koa binding of helmet): `nosniff`, no `X-Powered-By`, a default CSP that forbids everything including being
 * framed (a page sent by `sendPage` replaces it with its own nonce policy), `Referrer-Policy: no-referrer`, and
 * HSTS when the public URL is https (a plain-HTTP deployment must not pin browsers to a scheme it lacks).
 *
 * Cross-origin resource and opener policies stay off: sites in ALLOWED_ORIGINS load the client bundle with a
 * plain `<script src>` and may open the login page in a popup.
 */
import helmet from 'koa-helmet';
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
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
    },
    strictTransportSecurity: https ? { maxAge: HSTS_MAX_AGE_SECONDS, includeSubDomains: false } : false,
    crossOriginResourcePolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginEmbedderPolicy: false,
    xFrameOptions: { action: 'deny' },
  });
}
