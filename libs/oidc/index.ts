/**
 * qrgate as an OpenID Connect provider: client configuration, keys, the engine-backed storage adapter and the
 * provider factory. The gateway mounts it and supplies the login step (apps/gateway/oidc-*.ts). This index loads
 * oidc-provider; the gateway imports the modules it needs one by one and the factory lazily, so that a gateway
 * without clients never loads it.
 */
export { engineOidcAdapter, type OidcKeyValue } from './engine-oidc-adapter.js';
export { OidcClientsError, parseOidcClients, type OidcClient } from './oidc-clients.js';
export { generateRsaSigningKeyPem, isRsaPrivateKeyPem, oidcCookieKeys, rsaSigningJwk, type OidcSigningJwk } from './oidc-keys.js';
export { interactionExpiredPage, OIDC_PAGE_CSP } from './oidc-pages.js';
export { createOidcProvider, type OidcLifetimes, type OidcProviderOptions } from './oidc-provider.js';
export { amrFor, OIDC_SCOPES, type LoginMethod } from './oidc-scopes.js';
export { configuredOidcClients, OIDC_MOUNT_PATH, oidcSettings, type OidcSettings, type OidcSettingsOptions } from './oidc-settings.js';
