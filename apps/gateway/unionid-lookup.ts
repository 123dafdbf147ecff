/**
 * The `unionid` of a user who just logged in: one `cgi-bin/user/info` call per login, carried as a claim in
 * the session token, so sites with several apps under one Open Platform account can key users by it. WeChat
 * returns it only when the Official Account is bound to an Open Platform account (and, for `user/info`, the
 * user follows it — which every scanner does). A lookup that fails or is slow never costs the login: the code
 * is already redeemed, so the token is issued without the claim and the failure is logged.
 */
import type { Logger } from '../../libs/observability/index.js';
import { TIMED_OUT, withTimeout } from '../../libs/runtime/with-timeout.js';

/** The part of the WeChat client the lookup needs (`libs/wechat`'s client has it). */
export interface UserInfoSource {
  getUserInfo(openid: string): Promise<{ unionid?: string | undefined }>;
}

/** The unionid of `openid`, or undefined when WeChat has none (or could not say in time). Never rejects. */
export type UnionidLookup = (openid: string) => Promise<string | undefined>;

/** Past this the token is issued without `unionid`: the browser is waiting for its session. */
export const UNIONID_LOOKUP_TIMEOUT_MS = 3_000;

// unionids have WeChat's openid shape; anything else must not end up in a signed claim.
const UNIONID = /^[A-Za-z0-9_-]{1,64}$/;

export function createUnionidLookup(deps: { source: UserInfoSource; logger: Logger; timeoutMs?: number }): UnionidLookup {
  const timeoutMs = deps.timeoutMs ?? UNIONID_LOOKUP_TIMEOUT_MS;
  return async (openid) => {
    const asked = deps.source.getUserInfo(openid).then(
      (info) => ({ ok: true as const, unionid: info.unionid }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const answer = await withTimeout(asked, timeoutMs);
    if (answer === TIMED_OUT) {
      deps.logger.warn(`unionid lookup took over ${timeoutMs} ms; session issued without unionid`);
      return undefined;
    }
    if (!answer.ok) {
      deps.logger.warn({ err: answer.error }, 'unionid lookup failed; session issued without unionid');
      return undefined;
    }
    return answer.unionid !== undefined && UNIONID.test(answer.unionid) ? answer.unionid : undefined;
  };
}
