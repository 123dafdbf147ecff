/**
 * The provider's vocabulary that the gateway's login step also needs, kept apart from the provider factory so
 * that importing it does not load oidc-provider (a gateway without clients never does).
 */

/** Scopes the provider knows. `unionid` adds the `unionid` claim when WeChat has one for the user. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'unionid'] as const;

/** How the user proved who they are, as the ID token's `amr` says it: a scan (`scan` or `tap` mode), or inside WeChat. */
export type LoginMethod = 'scan' | 'tap' | 'wechat';

/**
 * `amr` values: a scan of the QR code in WeChat, plus the tap on the confirmation page in `tap` mode; or
 * `wechat` for the Official Account's web authorization inside WeChat's own browser (no QR code, no tap).
 */
export const amrFor = (method: LoginMethod): string[] => (method === 'wechat' ? ['wechat'] : method === 'tap' ? ['scan', 'tap'] : ['scan']);
