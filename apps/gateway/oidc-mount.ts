/**
 * Mounting the provider at `/oidc` on the gateway's Koa app. oidc-provider is a Koa application of its own whose
 * routes end the response (9.0.0), so requests under the mount path are handed to its `callback()` with the
 * prefix stripped (it derives its URLs from `req.originalUrl`), after the gateway's request log and error
 * middleware. One check runs first: a known client asking, at a registered redirect URI, for a scope the
 * provider does not have gets an `invalid_scope` error redirect (oidc-provider would silently drop the scope).
 */
import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { OidcClient } from '../../libs/oidc/oidc-clients.js';
import { OIDC_SCOPES } from '../../libs/oidc/oidc-scopes.js';
import { OIDC_MOUNT_PATH } from '../../libs/oidc/oidc-settings.js';

const KNOWN_SCOPES: ReadonlySet<string> = new Set(OIDC_SCOPES);

/** The redirect with `invalid_scope` for an authorization request naming unknown scopes, or null to go on. */
function unknownScopeRedirect(ctx: Koa.Context, clients: readonly OidcClient[], issuer: string): string | null {
  const { client_id: clientId, redirect_uri: redirectUri, scope } = ctx.query;
  if (typeof clientId !== 'string' || typeof redirectUri !== 'string' || typeof scope !== 'string') return null;
  const client = clients.find((c) => c.client_id === clientId);
  // Without a trusted client and redirect URI there is nowhere safe to redirect: the provider shows its error page.
  if (client === undefined || !client.redirect_uris.includes(redirectUri)) return null;
  const unknown = scope.split(' ').filter((s) => s !== '' && !KNOWN_SCOPES.has(s));
  if (unknown.length === 0) return null;
  const target = new URL(redirectUri);
  target.searchParams.set('error', 'invalid_scope');
  target.searchParams.set('error_description', `unknown scope: ${unknown.join(' ').slice(0, 100)}`);
  if (typeof ctx.query.state === 'string') target.searchParams.set('state', ctx.query.state);
  target.searchParams.set('iss', issuer);
  return target.href;
}

/** Koa middleware serving everything under `/oidc` (but the routes the router matched first) from `provider`. */
export function oidcProviderMiddleware(provider: Provider, clients: readonly OidcClient[]): Koa.Middleware {
  const handle = provider.callback();
  return async (ctx, next) => {
    if (ctx.path !== OIDC_MOUNT_PATH && !ctx.path.startsWith(`${OIDC_MOUNT_PATH}/`)) return next();
    if (ctx.path === `${OIDC_MOUNT_PATH}/auth` && ctx.method === 'GET') {
      const redirect = unknownScopeRedirect(ctx, clients, provider.issuer);
      if (redirect !== null) {
        ctx.status = 303;
        ctx.redirect(redirect);
        return;
      }
    }
    const req = ctx.req as IncomingMessage & { originalUrl?: string };
    const original = req.url ?? '/';
    req.originalUrl = original;
    req.url = original.slice(OIDC_MOUNT_PATH.length) || '/';
    if (!req.url.startsWith('/')) req.url = `/${req.url}`;
    ctx.respond = false;
    try {
      await handle(req, ctx.res);
    } finally {
      req.url = original;
    }
  };
}
