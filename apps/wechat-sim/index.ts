/** The WeChat simulator's public surface: other apps compose it only through `createWechatSim`. */
export {
  createWechatSim,
  type PushOutcome,
  type ScanInput,
  type ScanResult,
  type SimApiEndpoint,
  type SimCodeView,
  type SimStats,
  type WechatSim,
  type WechatSimOptions,
} from './wechat-sim.js';
export { DEMO_USERS, NO_UNIONID_MARK, simUnionidOf } from './sim-users.js';
export { SIM_DEMO_CREDENTIALS } from './bootstrap.js';
export { WECHAT_IN_APP_UA, followLink, linkIn, type FollowedLink, type PageResult } from './sim-in-app-browser.js';
