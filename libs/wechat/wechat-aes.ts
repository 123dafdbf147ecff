/**
 * Safe-mode message encryption (WECHAT.md §7.3): AES-256-CBC, key = base64(EncodingAESKey + "="),
 * IV = first 16 bytes of the key, PKCS#7 padding to 32 bytes, plaintext =
 * 16 random bytes | 4-byte big-endian length | message | AppID.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const BLOCK = 32;

export class WechatCryptoError extends Error {
  override name = 'WechatCryptoError';
}

/** The 32-byte AES key of a 43-character EncodingAESKey. */
export function aesKeyOf(encodingAesKey: string): Buffer {
  const key = Buffer.from(`${encodingAesKey}=`, 'base64');
  if (encodingAesKey.length !== 43 || key.length !== 32) throw new WechatCryptoError('EncodingAESKey must be 43 characters');
  return key;
}

/** Encrypt a message for `appId`; returns the base64 `Encrypt` value. */
export function encryptMessage(encodingAesKey: string, appId: string, message: string): string {
  const key = aesKeyOf(encodingAesKey);
  const body = Buffer.from(message, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length, 0);
  const plain = Buffer.concat([randomBytes(16), length, body, Buffer.from(appId, 'utf8')]);
  const pad = BLOCK - (plain.length % BLOCK);
  const padded = Buffer.concat([plain, Buffer.alloc(pad, pad)]);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(padded), cipher.final()]).toString('base64');
}

export interface DecryptedMessage {
  message: string;
  /** The receive id (AppID) found after the message. */
  appId: string;
}

/** Decrypt an `Encrypt` value. Throws WechatCryptoError on any malformed input; never returns garbage. */
export function decryptMessage(encodingAesKey: string, encrypted: string): DecryptedMessage {
  const key = aesKeyOf(encodingAesKey);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encrypted)) throw new WechatCryptoError('ciphertext is not base64');
  const data = Buffer.from(encrypted, 'base64');
  if (data.length === 0 || data.length % 16 !== 0) throw new WechatCryptoError('ciphertext length is not a block multiple');
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
    decipher.setAutoPadding(false);
    plain = Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new WechatCryptoError('ciphertext does not decrypt');
  }
  const pad = plain[plain.length - 1] ?? 0;
  if (pad < 1 || pad > BLOCK || pad > plain.length || !plain.subarray(plain.length - pad).every((b) => b === pad)) {
    throw new WechatCryptoError('bad padding');
  }
  const content = plain.subarray(0, plain.length - pad);
  if (content.length < 20) throw new WechatCryptoError('plaintext too short');
  const length = content.readUInt32BE(16);
  if (20 + length > content.length) throw new WechatCryptoError('length field exceeds plaintext');
  return {
    message: content.subarray(20, 20 + length).toString('utf8'),
    appId: content.subarray(20 + length).toString('utf8'),
  };
}
