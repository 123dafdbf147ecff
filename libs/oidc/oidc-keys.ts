/**
 * The provider's keys: the RSA key that signs ID tokens (published, with the previous one during a rotation,
 * at `jwks_uri`), and the cookie keys, derived from SESSION_SECRET so that every gateway signs and accepts the
 * same interaction and session cookies without one more secret to distribute.
 */
import { createHash, createPrivateKey, generateKeyPairSync, hkdfSync, type JsonWebKey } from 'node:crypto';

/** A private signing JWK as oidc-provider's `jwks` wants it. */
export interface OidcSigningJwk extends JsonWebKey {
  kid: string;
  alg: 'RS256';
  use: 'sig';
}

/** RFC 7638 thumbprint of an RSA public key, the key's `kid`. */
function rsaThumbprint(jwk: JsonWebKey): string {
  return createHash('sha256')
    .update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n }))
    .digest('base64url');
}

/** True when `pem` is a PKCS#8 RSA private key (the only kind RS256, the default ID token algorithm, needs). */
export function isRsaPrivateKeyPem(pem: string): boolean {
  try {
    return createPrivateKey(pem.replace(/\\n/g, '\n')).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

/**
 * The private JWK of a PKCS#8 RSA PEM. Throws, naming `variable`, for anything else (an EC key cannot sign
 * RS256, and every client that registers no algorithm gets RS256 ID tokens).
 */
export function rsaSigningJwk(pem: string, variable: string): OidcSigningJwk {
  let key;
  try {
    key = createPrivateKey(pem.replace(/\\n/g, '\n'));
  } catch {
    throw new Error(`${variable}: expected a PKCS#8 PEM RSA private key (openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048)`);
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new Error(`${variable}: expected an RSA private key (ID tokens are RS256), got ${key.asymmetricKeyType ?? 'another kind'}`);
  }
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.n === 'string' && Buffer.from(jwk.n, 'base64url').length < 256) {
    throw new Error(`${variable}: the RSA key must have at least 2048 bits`);
  }
  return { ...jwk, kid: rsaThumbprint(jwk), alg: 'RS256', use: 'sig' };
}

/** A fresh 2048-bit RSA key as PKCS#8 PEM (demo mode only: each process would otherwise have its own). */
export function generateRsaSigningKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Cookie signing keys for oidc-provider, derived from SESSION_SECRET (HKDF-SHA256, a purpose-bound label). */
export function oidcCookieKeys(sessionSecret: string): string[] {
  const key = hkdfSync('sha256', Buffer.from(sessionSecret, 'utf8'), Buffer.from('qrgate'), Buffer.from('oidc-provider cookies v1'), 32);
  return [Buffer.from(key).toString('base64url')];
}
