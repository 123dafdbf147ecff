/**
 * WeChat's request signatures (WECHAT.md §4.2, §7.2): SHA-1 of the lexicographically sorted, concatenated
 * parts. `signature` covers token/timestamp/nonce; `msg_signature` adds the `Encrypt` ciphertext.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export function sha1Sorted(parts: readonly string[]): string {
  return createHash('sha1')
    .update([...parts].sort().join(''))
    .digest('hex');
}

/** `signature` of a push or of the GET handshake. */
export const pushSignature = (token: string, timestamp: string, nonce: string): string => sha1Sorted([token, timestamp, nonce]);

/** `msg_signature` of a safe-mode push or reply. */
export const messageSignature = (token: string, timestamp: string, nonce: string, encrypt: string): string =>
  sha1Sorted([token, timestamp, nonce, encrypt]);

/** Constant-time comparison of two hex signatures. */
export function signatureEquals(expected: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
