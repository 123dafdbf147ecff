/**
 * The replay cache of signed query strings (WECHAT.md §4.3): a plaintext `signature` covers no body, so a
 * captured query string could carry any XML. Each accepted query string is remembered with the SHA-256 of the
 * body it came with, for the whole freshness window: the same query string with the same body is WeChat
 * re-sending, and is handled again (the scan's delivery marks keep it from being done twice); with another
 * body it is a forgery and is refused. The mark never stops work, so a process killed after writing it loses
 * nothing: WeChat's re-send of that push is handled.
 */
import { createHash } from 'node:crypto';
import type { KeyValueStore } from '../../libs/engine/engine.js';
import type { PushQuery } from './push-verification.js';

/** What a query string's earlier use says about this request. */
export type ReplayVerdict = 'first' | 'retry' | 'mismatch';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The cache key of a signed query string: `timestamp|nonce|signature`, hashed to bound its length. */
export const replayKey = (query: PushQuery): string =>
  `wechat:replay:${sha256(`${query.timestamp ?? ''}|${query.nonce ?? ''}|${query.signature ?? ''}`)}`;

/**
 * Remember `query` with `body` (atomically, first writer wins) and say whether this is its first use, a
 * retry with the identical body, or a reuse with a different body. `ttlMs` must cover the freshness window:
 * after it the timestamp check refuses the query string anyway.
 */
export async function checkReplay(kv: KeyValueStore, query: PushQuery, body: string, ttlMs: number): Promise<ReplayVerdict> {
  const bodyHash = sha256(body);
  // One atomic round trip: set it, or read what an earlier use left.
  const stored = await kv.setIfAbsentOrGet(replayKey(query), bodyHash, ttlMs);
  if (stored === null) return 'first';
  return stored === bodyHash ? 'retry' : 'mismatch';
}
