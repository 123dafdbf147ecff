/**
 * The simulated WeChat users and whether they follow the Official Account: it decides between a
 * `subscribe` and a `SCAN` push, and what `user/info` answers (with a `unionid` for some users and none for
 * others, as WeChat does depending on the account's Open Platform binding).
 */
import { createHash } from 'node:crypto';

export interface SimUser {
  openid: string;
  /** Shown on the phone page only; `user/info` returns an empty nickname, as WeChat does since 2021. */
  name: string;
  following: boolean;
  /** Unix seconds of the last follow. */
  subscribeTime?: number;
  /** Scene of the QR code the user followed through. */
  qrSceneStr?: string;
  /**
   * Set for users of an Official Account bound to an Open Platform account, whose `user/info` carries it;
   * WeChat omits it otherwise, so some demo users have one and some do not.
   */
  unionid?: string;
}

/** Marks an openid whose user has no unionid (first seen by the simulator), so tests can have both kinds. */
export const NO_UNIONID_MARK = 'NoUnion';

/**
 * The simulator's unionid of an openid it first sees (not a demo user's, which list their own): 28 characters of
 * WeChat's shape, derived from the openid so a test can know it, or undefined for an openid containing
 * {@link NO_UNIONID_MARK}.
 */
export function simUnionidOf(openid: string): string | undefined {
  if (openid.includes(NO_UNIONID_MARK)) return undefined;
  return `oU${createHash('sha256').update(`unionid:${openid}`).digest('base64url').slice(0, 26)}`;
}

/** Fake users offered on the phone page; openids have WeChat's 28-character shape. */
export const DEMO_USERS: ReadonlyArray<{ openid: string; name: string; unionid?: string }> = [
  { openid: 'oQgSim0Alice0000000000000001', name: 'Alice', unionid: 'uQgSimAliceUnion000000000001' },
  { openid: 'oQgSim0Bob000000000000000002', name: 'Bob' },
  { openid: 'oQgSim0Chen00000000000000003', name: 'Chen Wei', unionid: 'uQgSimChenUnion0000000000003' },
  { openid: 'oQgSim0Dana00000000000000004', name: 'Dana' },
];

export interface SimUsers {
  /** The user, created (not following) on first sight. */
  ensure(openid: string): SimUser;
  get(openid: string): SimUser | undefined;
  follow(openid: string, via?: { scene: string }): SimUser;
  unfollow(openid: string): SimUser;
  list(): SimUser[];
}

/**
 * Most users the simulator remembers: any openid posted to `/sim/api/scan` becomes a user, so past this the
 * least recently created one (never a demo user) is forgotten, keeping memory bounded.
 */
export const MAX_SIM_USERS = 10_000;

export function createSimUsers(now: () => number = Date.now): SimUsers {
  // The demo users have the unionid they list (or none); any other openid one derived from it (simUnionidOf).
  const withUnionid = (user: SimUser): SimUser => {
    const unionid = simUnionidOf(user.openid);
    return unionid !== undefined ? { ...user, unionid } : user;
  };
  const users = new Map<string, SimUser>(DEMO_USERS.map((u) => [u.openid, { ...u, following: false }]));

  function ensure(openid: string): SimUser {
    let user = users.get(openid);
    if (user === undefined) {
      user = withUnionid({ openid, name: openid, following: false });
      users.set(openid, user);
      if (users.size > MAX_SIM_USERS) {
        const demo = new Set(DEMO_USERS.map((u) => u.openid));
        for (const key of users.keys()) {
          if (!demo.has(key) && key !== openid) {
            users.delete(key);
            break;
          }
        }
      }
    }
    return user;
  }

  return {
    ensure,
    get: (openid) => users.get(openid),
    follow(openid, via) {
      const user = ensure(openid);
      user.following = true;
      user.subscribeTime = Math.floor(now() / 1000);
      if (via !== undefined) user.qrSceneStr = via.scene;
      else delete user.qrSceneStr;
      return user;
    },
    unfollow(openid) {
      const user = ensure(openid);
      user.following = false;
      return user;
    },
    list: () => [...users.values()],
  };
}
