/**
 * qrgate's OpenID Connect provider: panva's certified `oidc-provider`, configured for exactly what the issue
 * asks and no more. Authorization code flow with PKCE (S256, required for public clients), userinfo,
 * revocation, RP-initiated logout, rotating refresh tokens for clients allowed the grant; no implicit flow,
 * no dynamic registration, no consent screen (the clients are the operator's own, listed in configuration).
 * The login step is an external interaction (qrgate's QR page); this module knows nothing of tickets.
 */
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { OidcClient } from './oidc-clients.js';
import type { OidcKeyValue } from './engine-oidc-adapter.js';
import { engineOidcAdapter } from './engine-oidc-adapter.js';
import type { OidcSigningJwk } from './oidc-keys.js';
import { OIDC_SCOPES } from './oidc-scopes.js';
import { errorPage, logoutPage, logoutSuccessPage, OIDC_LOGOUT_PAGE_CSP, OIDC_PAGE_CSP } from './oidc-pages.js';

/** Lifetimes, seconds. Every one is explicit (oidc-provider warns about each default it has to pick). */
export interface OidcLifetimes {
  /** The login step (QR page) may take this long. Default 600. */
  interaction?: number;
  /** The provider's own sign-in session (SESSION_TTL_SECONDS). */
  session: number;
  /** Default 3600. */
  accessToken?: number;
  /** Default 60. */
  authorizationCode?: number;
  /** Default 3600. */
  idToken?: number;
  /** Default 14 days. */
  refreshToken?: number;
}

export interface OidcProviderOptions {
  /** `PUBLIC_URL` + `/oidc`; its path is where the provider is mounted. */
  issuer: string;
  clients: OidcClient[];
  /** Where records live: the engine's key-value store. */
  kv: OidcKeyValue;
  /** Private RSA JWKs, the current one first (it signs); the others are published for verification only. */
  signingKeys: OidcSigningJwk[];
  /** Cookie signing keys (see `oidcCookieKeys`). */
  cookieKeys: string[];
  /** Path of the login page of interaction `uid`, e.g. `/oidc/interaction/<uid>`. */
  interactionPath(uid: string): string;
  /**
   * Told the authorization request of every new interaction before the browser is sent to its page, so that an
   * expired one can start over with the same request. Default: nothing is remembered.
   */
  rememberInteraction?(uid: string, params: Record<string, unknown>): Promise<void>;
  /** The user's unionid, when WeChat returns one (scope `unionid`). */
  unionidOf?(openid: string): Promise<string | undefined>;
  /** Trust X-Forwarded-Proto/Host (behind TRUST_PROXY). Default false. */
  proxy?: boolean;
  lifetimes: OidcLifetimes;
}

/** Build the provider, a Koa application (mount it with `mountOidcProvider`-style prefix stripping). */
export function createOidcProvider(options: OidcProviderOptions): Provider {
  const lifetimes = options.lifetimes;
  // oidc-provider refuses to fetch special-use addresses (loopback, private ranges) as an SSRF guard. The
  // back-channel logout URIs are the operator's own (OIDC_CLIENTS; there is no dynamic registration) and are
  // often internal services, so requests to exactly those origins go out without the guard; any other fetch
  // keeps it.
  const backchannelOrigins = new Set(
    options.clients.flatMap((c) => (c.backchannel_logout_uri !== undefined ? [new URL(c.backchannel_logout_uri).origin] : [])),
  );
  const configuration: Configuration = {
    fetch: (url, init) => {
      const target = url instanceof Request ? url.url : url;
      if (!backchannelOrigins.has(new URL(target).origin)) return globalThis.fetch(url, init);
      const { dispatcher: _guard, ...unguarded } = init as RequestInit & { dispatcher?: unknown };
      return globalThis.fetch(url, unguarded);
    },
    adapter: engineOidcAdapter(options.kv),
    clients: options.clients.map((c) => ({ ...c })),
    jwks: { keys: options.signingKeys.map((k) => ({ ...k })) as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: options.cookieKeys,
      long: { signed: true, httpOnly: true, sameSite: 'lax' },
      short: { signed: true, httpOnly: true, sameSite: 'lax' },
    },
    responseTypes: ['code'],
    scopes: [...OIDC_SCOPES],
    // `amr` is listed so the ID token carries how the user signed in (the session's amr, set by the login step).
    claims: { openid: ['sub', 'amr'], unionid: ['unionid'] },
    pkce: {
      // Public clients must use PKCE (oidc-provider only accepts S256); confidential ones may.
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: false },
      // A client may revoke only the tokens issued to it.
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      introspection: { enabled: false },
      // Clients with a `backchannel_logout_uri` are told when their session ends (`sid` in the logout token).
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.set('Content-Security-Policy', OIDC_LOGOUT_PAGE_CSP);
          ctx.type = 'html';
          ctx.body = logoutPage(ctx.host, form);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.set('Content-Security-Policy', OIDC_PAGE_CSP);
          ctx.type = 'html';
          ctx.body = logoutSuccessPage(ctx.oidc.client?.clientId);
        },
      },
    },
    async renderError(ctx, out) {
      ctx.set('Content-Security-Policy', OIDC_PAGE_CSP);
      ctx.type = 'html';
      ctx.body = errorPage(out);
    },
    interactions: {
      async url(_ctx, interaction) {
        await options.rememberInteraction?.(interaction.uid, interaction.params);
        return options.interactionPath(interaction.uid);
      },
    },
    // The clients are the operator's own: the grant covers what the client asked for, without a consent page.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { client, session } = ctx.oidc;
      if (client === undefined || session?.accountId === undefined) return undefined;
      const grantId = session.grantIdFor(client.clientId);
      const requested = [...(ctx.oidc.requestParamScopes ?? new Set<string>())].join(' ');
      const existing = grantId !== undefined ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (existing !== undefined && existing.accountId === session.accountId) {
        existing.addOIDCScope(requested);
        await existing.save();
        return existing;
      }
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(requested);
      await grant.save();
      return grant;
    },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims(use, scope) {
          // The unionid goes to userinfo only (code-flow ID tokens carry just the openid scope's claims), so
          // WeChat is asked only then.
          const wantsUnionid = use === 'userinfo' && scope.split(' ').includes('unionid');
          const unionid = wantsUnionid && options.unionidOf !== undefined ? await options.unionidOf(sub) : undefined;
          return { sub, ...(unionid !== undefined ? { unionid } : {}) };
        },
      };
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    ttl: {
      AccessToken: lifetimes.accessToken ?? 3600,
      AuthorizationCode: lifetimes.authorizationCode ?? 60,
      IdToken: lifetimes.idToken ?? 3600,
      RefreshToken: lifetimes.refreshToken ?? 14 * 24 * 3600,
      Interaction: lifetimes.interaction ?? 600,
      Session: lifetimes.session,
      Grant: lifetimes.refreshToken ?? 14 * 24 * 3600,
    },
    // The client's own JWKS and request objects are not offered: nothing of it is fetched from outside.
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  };
  const provider = new Provider(options.issuer, configuration);
  provider.proxy = options.proxy ?? false;
  return provider;
}
