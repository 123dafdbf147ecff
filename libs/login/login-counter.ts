/**
 * The login counter: how many times a WeChat user logged in, shown as a courtesy line ("your Nth login") in
 * the scan reply or on the confirmation page. The only personal data kept past a ticket's life, so it goes
 * when the user unfollows (WECHAT.md §5), and by itself a year after the user's last login (a sliding TTL),
 * so the store does not keep a key for every WeChat user who ever logged in.
 */
import type { KeyValueStore } from '../engine/index.js';
import type { Logger } from '../observability/index.js';
import { loginCountKey } from '../ticket/index.js';

/** How long a login count outlives the user's last login, ms. */
export const LOGIN_COUNT_TTL_MS = 365 * 24 * 60 * 60 * 1000;

export interface LoginCounter {
  /** Count one login; the new count, or undefined when the store failed (logged: a courtesy must not block a login). */
  count(openid: string): Promise<number | undefined>;
  /** Take back a count whose login did not happen after all (its write lost); failures are logged. */
  uncount(openid: string): Promise<void>;
  /** Forget the user's count. */
  forget(openid: string): Promise<void>;
}

export function createLoginCounter(deps: { kv: KeyValueStore; logger: Logger }): LoginCounter {
  return {
    count(openid) {
      return deps.kv.increment(loginCountKey(openid), LOGIN_COUNT_TTL_MS).catch((err: unknown) => {
        deps.logger.warn({ err }, 'could not count the login; the reply goes without the count');
        return undefined;
      });
    },
    async uncount(openid) {
      try {
        await deps.kv.increment(loginCountKey(openid), undefined, -1);
      } catch (err) {
        deps.logger.warn({ err }, 'could not take back the count of a login that did not happen');
      }
    },
    forget(openid) {
      return deps.kv.delete(loginCountKey(openid));
    },
  };
}
