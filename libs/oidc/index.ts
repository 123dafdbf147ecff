/**
 * qrgate as an OpenID Connect provider: client configuration, keys, the engine-backed storage adapter and the
 * provider factory. The gateway mounts it and supplies the login step (apps/gateway/oidc-*.ts).
 */
export { engineOidcAdapter, type OidcKeyValue } from './engine-oidc-adapter.js';
export { OidcClientsError, parseOidcClients, type OidcClient } from './oidc-clients.js';
export { generateRsaSigningKeyPem, isRsaPrivateKeyPem, oidcCookieKeys, rsaSigningJwk, type OidcSigningJwk } from './oidc-keys.js';
export { interactionExpiredPage, OIDC_PAGE_CSP } from './oidc-pages.js';
export { amrFor, createOidcProvider, OIDC_SCOPES, type LoginMethod, type OidcLifetimes, type OidcProviderOptions } from './oidc-provider.js';
export { configuredOidcClients, OIDC_MOUNT_PATH, oidcSettings, type OidcSettings, type OidcSettingsOptions } from './oidc-settings.js';
