/**
 * The WeChat user's phone: scans through the simulator's JSON API, exactly as its /sim page does.
 */
import type { FollowedLink } from '../../apps/wechat-sim/index.js';

export interface ScanResult {
  delivered: boolean;
  attempts: number;
  status: number;
  event: 'subscribe' | 'SCAN';
  reply: string | null;
  rawBody: string;
  /** With `tap`: the confirmation page the in-app browser opened and the answer to the tapped button. */
  tapped?: FollowedLink;
}

/** Scan `scene` as `openid`; with `tap`, also open the reply's link and tap that button (`tap` mode). */
export async function scan(
  simUrl: string,
  input: { scene: string; openid: string; encrypt?: boolean; tap?: 'confirm' | 'cancel' },
): Promise<ScanResult> {
  const res = await fetch(`${simUrl}/sim/api/scan`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  if (!res.ok) throw new Error(`scan failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as ScanResult;
}

/** Make the user a follower without a push, so their next scan is a `SCAN` (not `subscribe`). */
export async function follow(simUrl: string, openid: string): Promise<void> {
  const res = await fetch(`${simUrl}/sim/api/follow`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ openid }),
  });
  if (!res.ok) throw new Error(`follow failed: ${res.status}`);
}

// The in-app browser lives in the simulator (its phone page and `tap` option use it); tests share it.
export { WECHAT_IN_APP_UA, followLink, linkIn, type FollowedLink, type PageResult } from '../../apps/wechat-sim/index.js';
