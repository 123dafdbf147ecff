/**
 * Whether the OpenID Connect provider runs, and with what: resolved once from the configuration at start-up,
 * so a half-configured provider cannot be built. No clients: off. Clients: the issuer, the RSA keys and the
 * cookie keys must be shared by every gateway, so outside the demo start-up refuses to invent any of them.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type Config } from '../config/index.js';
import { OidcClientsError, parseOidcClients, type OidcClient } from './oidc-clients.js';
import { generateRsaSigningKeyPem, isRsaPrivateKeyPem, oidcCookieKeys, rsaSigningJwk, type OidcSigningJwk } from './oidc-keys.js';

/** Path under the gateway's origin where the provider is mounted. */
export const OIDC_MOUNT_PATH = '/oidc';

export interface OidcSettings {
  /** PUBLIC_URL + `/oidc`. */
  issuer: string;
  clients: OidcClient[];
  /** Current key first. */
  signingKeys: OidcSigningJwk[];
  cookieKeys: string[];
  /** True when the signing key was generated (demo only): ID tokens verify on this process alone. */
  generatedKey: boolean;
  sessionTtlSeconds: number;
}

export interface OidcSettingsOptions {
  /** `npm start` without WeChat credentials: a missing signing key is generated instead of refused. */
  demo?: boolean;
  /** Extra clients registered by the composition root (the demo's relying party). */
  extraClients?: OidcClient[];
}

/** Read the client list from OIDC_CLIENTS or OIDC_CLIENTS_FILE; throws ConfigError naming the variable. */
export function configuredOidcClients(config: Config): OidcClient[] {
  if (config.OIDC_CLIENTS !== undefined && config.OIDC_CLIENTS_FILE !== undefined) {
    throw new ConfigError(['OIDC_CLIENTS_FILE: set either OIDC_CLIENTS or OIDC_CLIENTS_FILE, not both']);
  }
  let text: string | undefined = config.OIDC_CLIENTS;
  let source = 'OIDC_CLIENTS';
  if (config.OIDC_CLIENTS_FILE !== undefined) {
    source = `OIDC_CLIENTS_FILE (${config.OIDC_CLIENTS_FILE})`;
    try {
      text = readFileSync(config.OIDC_CLIENTS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError([
        `OIDC_CLIENTS_FILE: cannot read ${config.OIDC_CLIENTS_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      ]);
    }
  }
  if (text === undefined) return [];
  try {
    return parseOidcClients(text, source);
  } catch (err) {
    if (err instanceof OidcClientsError) throw new ConfigError(err.issues);
    throw err;
  }
}

/** The provider's settings, or null when no client is configured (the provider is off). */
export function oidcSettings(config: Config, options: OidcSettingsOptions = {}): OidcSettings | null {
  const clients = [...configuredOidcClients(config), ...(options.extraClients ?? [])];
  if (clients.length === 0) return null;
  const demo = options.demo ?? false;
  const issues: string[] = [];
  if (config.PUBLIC_URL === undefined) {
    issues.push('PUBLIC_URL: required with OIDC clients (the issuer is PUBLIC_URL + /oidc, the same on every gateway)');
  }
  if (config.SESSION_SECRET === undefined) {
    issues.push("SESSION_SECRET: required with OIDC clients (the provider's cookie keys derive from it, the same on every gateway)");
  }
  const pem =
    config.OIDC_SIGNING_KEY ??
    (config.SESSION_SIGNING_KEY !== undefined && isRsaPrivateKeyPem(config.SESSION_SIGNING_KEY) ? config.SESSION_SIGNING_KEY : undefined);
  if (pem === undefined && !demo) {
    issues.push(
      'OIDC_SIGNING_KEY: required with OIDC clients unless SESSION_SIGNING_KEY is an RSA key (a PKCS#8 PEM RSA key shared by ' +
        'every gateway; a generated one would sign ID tokens that other gateways cannot vouch for)',
    );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  const variable = config.OIDC_SIGNING_KEY !== undefined ? 'OIDC_SIGNING_KEY' : 'SESSION_SIGNING_KEY';
  let signingKeys: OidcSigningJwk[];
  try {
    signingKeys = [rsaSigningJwk(pem ?? generateRsaSigningKeyPem(), variable)];
    if (config.OIDC_SIGNING_KEY_PREVIOUS !== undefined) {
      const previous = rsaSigningJwk(config.OIDC_SIGNING_KEY_PREVIOUS, 'OIDC_SIGNING_KEY_PREVIOUS');
      if (previous.kid !== signingKeys[0]!.kid) signingKeys.push(previous);
    }
  } catch (err) {
    throw new ConfigError([(err as Error).message]);
  }
  return {
    issuer: `${config.PUBLIC_URL!.replace(/\/+$/, '')}${OIDC_MOUNT_PATH}`,
    clients,
    signingKeys,
    cookieKeys: oidcCookieKeys(config.SESSION_SECRET!),
    generatedKey: pem === undefined,
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
  };
}
