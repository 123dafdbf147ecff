/**
 * Session credentials: a JWT signed with an asymmetric key so any backend can verify it against
 * `/.well-known/jwks.json` without sharing a secret.
 */
import { randomUUID } from 'node:crypto';
import type { SessionIdentity } from '../../libs/ticket/index.js';
import {
  SignJWT,
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importPKCS8,
  jwtVerify,
  type CryptoKey,
  type JWK,
} from 'jose';

/** What a token this signer issued says about its session, once its signature, issuer and expiry check out. */
export interface VerifiedSession {
  sub: string;
  sid: string;
  /** Epoch seconds. */
  exp: number;
}

export interface SessionSigner {
  /**
   * A JWT for `sub`, for `audience` (the origin of the site the login was made for). With `identity`, the
   * session it names is fixed: signing again with the same identity gives the same claims (`jti`, `iat`,
   * `exp`), i.e. the same session, not a second one. Without it, a fresh session (random `jti`, issued now).
   * The session's id is in claim `sid` (the same value as `jti`).
   */
  sign(subject: string, audience: string, claims?: Record<string, string>, identity?: SessionIdentity): Promise<string>;
  /**
   * The session a token names, when this signer (or another gateway sharing its key) issued it and it has
   * not expired at `nowMs` (default now); null for anything else. Any audience: the gateway answers for every
   * site's tokens.
   */
  verify(token: string, nowMs?: number): Promise<VerifiedSession | null>;
  /** Public keys as a JWK Set. */
  readonly jwks: { keys: JWK[] };
  /** True when the key was generated at start-up (dev only: every process would have its own). */
  readonly generated: boolean;
  readonly ttlSeconds: number;
}

export interface SessionSignerOptions {
  /** PKCS#8 PEM private key (EC P-256 → ES256, RSA → RS256). Unset: an ES256 key is generated. */
  privateKeyPem?: string;
  /** JWT `iss`. */
  issuer: string;
  /** JWT lifetime, seconds. */
  ttlSeconds: number;
}

function algorithmOf(pem: string): 'ES256' | 'RS256' {
  // A PKCS#8 EC P-256 key is short; RSA keys are far longer. Try EC first, fall back to RSA.
  return pem.length < 400 ? 'ES256' : 'RS256';
}

export async function createSessionSigner(options: SessionSignerOptions): Promise<SessionSigner> {
  let alg: 'ES256' | 'RS256' = 'ES256';
  let privateKey: CryptoKey;
  let publicJwk: JWK;
  const generated = options.privateKeyPem === undefined;
  if (options.privateKeyPem === undefined) {
    const pair = await generateKeyPair('ES256', { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = await exportJWK(pair.publicKey);
  } else {
    const pem = options.privateKeyPem.replace(/\\n/g, '\n');
    alg = algorithmOf(pem);
    try {
      privateKey = await importPKCS8(pem, alg, { extractable: true });
    } catch {
      alg = alg === 'ES256' ? 'RS256' : 'ES256';
      privateKey = await importPKCS8(pem, alg, { extractable: true }).catch(() => {
        throw new Error('SESSION_SIGNING_KEY: expected a PKCS#8 PEM EC P-256 or RSA private key');
      });
    }
    const full = await exportJWK(privateKey);
    publicJwk = alg === 'ES256' ? { kty: full.kty, crv: full.crv, x: full.x, y: full.y } : { kty: full.kty, n: full.n, e: full.e };
  }
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwk: JWK = { ...publicJwk, kid, alg, use: 'sig' };
  const keySet = createLocalJWKSet({ keys: [jwk] });
  return {
    jwks: { keys: [jwk] },
    generated,
    ttlSeconds: options.ttlSeconds,
    async verify(token, nowMs) {
      try {
        const { payload } = await jwtVerify(token, keySet, {
          issuer: options.issuer,
          algorithms: [alg],
          ...(nowMs !== undefined ? { currentDate: new Date(nowMs) } : {}),
        });
        const { sub, sid, exp } = payload;
        return typeof sub === 'string' && typeof sid === 'string' && typeof exp === 'number' ? { sub, sid, exp } : null;
      } catch {
        return null;
      }
    },
    sign: (subject, audience, claims = {}, identity) => {
      const issuedAt = identity?.issuedAt ?? Math.floor(Date.now() / 1000);
      const jti = identity?.id ?? randomUUID();
      return new SignJWT({ ...claims, sid: jti })
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setSubject(subject)
        .setIssuer(options.issuer)
        .setAudience(audience)
        .setIssuedAt(issuedAt)
        .setJti(jti)
        .setExpirationTime(issuedAt + options.ttlSeconds)
        .sign(privateKey);
    },
  };
}
