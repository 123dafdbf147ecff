/**
 * The configuration resolved per role, once, into typed settings: what a gateway or a webhook may rely on is
 * in its type (a `tap` confirmation carries its secret and public URL; the engine is an {@link EngineChoice}),
 * so a half-configured app cannot be built. Every cross-setting rule lives here and each failure names the
 * variables; all of a role's problems are reported together in one ConfigError.
 */
import { ConfigError, type Config } from './config.js';

/** Which engine to run on. Chosen here; only the composition root (`libs/runtime`) creates it. */
export type EngineChoice = { kind: 'memory' } | { kind: 'redis'; url: string } | { kind: 'redis-cluster'; nodes: string[] };

/** How a scan becomes a login: at once, or after the scanner taps a signed link served at `publicUrl`. */
export type Confirmation = { mode: 'scan' } | { mode: 'tap'; secret: string; publicUrl: string };

/** The Official Account's credentials (WECHAT_APPID, WECHAT_SECRET, WECHAT_TOKEN). */
export interface WechatAccount {
  appId: string;
  appSecret: string;
  token: string;
}

/** What a gateway needs: an engine, WeChat's API, and its confirmation mode. */
export interface GatewayRole {
  engine: EngineChoice;
  wechat: WechatAccount;
  confirmation: Confirmation;
}

/** What a webhook needs: an engine, the push-signing Token and AppID, and its confirmation mode. */
export interface WebhookRole {
  engine: EngineChoice;
  token: string;
  appId: string;
  confirmation: Confirmation;
}

export interface RoleOptions {
  /**
   * True for the one-process composition (apps/standalone), where gateway and webhook share one engine and the
   * memory engine is enough. Default false: a separate gateway or webhook needs Redis.
   */
  inProcess?: boolean;
}

/** REDIS_CLUSTER_NODES, else REDIS_URL, else memory (one process only). */
export function engineChoice(config: Config): EngineChoice {
  if (config.REDIS_CLUSTER_NODES !== undefined && config.REDIS_CLUSTER_NODES.length > 0) {
    return { kind: 'redis-cluster', nodes: config.REDIS_CLUSTER_NODES };
  }
  if (config.REDIS_URL !== undefined) return { kind: 'redis', url: config.REDIS_URL };
  return { kind: 'memory' };
}

const TAP_NEEDS =
  'required when LOGIN_CONFIRMATION=tap (SESSION_SECRET signs the confirmation links, at least 16 ' +
  'characters and the same on every gateway and webhook; PUBLIC_URL is the origin the phone opens them on). ' +
  'Set both, or LOGIN_CONFIRMATION=scan';

/** The confirmation mode, or the problems that stop it (in `tap` mode, SESSION_SECRET and PUBLIC_URL). */
function confirmationOf(config: Config, issues: string[]): Confirmation {
  if (config.LOGIN_CONFIRMATION !== 'tap') return { mode: 'scan' };
  const { SESSION_SECRET: secret, PUBLIC_URL: publicUrl } = config;
  if (secret === undefined) issues.push(`SESSION_SECRET: ${TAP_NEEDS}`);
  if (publicUrl === undefined) issues.push(`PUBLIC_URL: ${TAP_NEEDS}`);
  return secret !== undefined && publicUrl !== undefined ? { mode: 'tap', secret, publicUrl } : { mode: 'scan' };
}

/** The confirmation mode; throws ConfigError naming SESSION_SECRET and PUBLIC_URL when `tap` lacks them. */
export function resolveConfirmation(config: Config): Confirmation {
  const issues: string[] = [];
  const confirmation = confirmationOf(config, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return confirmation;
}

function engineOf(config: Config, role: string, options: RoleOptions, issues: string[]): EngineChoice {
  const choice = engineChoice(config);
  if (choice.kind === 'memory' && options.inProcess !== true) {
    // In memory a gateway's tickets would be invisible to every webhook, and the other way round.
    issues.push(`REDIS_URL: the ${role} needs Redis, set REDIS_URL (or REDIS_CLUSTER_NODES). For a single-process demo run \`npm start\``);
  }
  return choice;
}

/** The gateway's settings; throws one ConfigError listing every missing or conflicting variable. */
export function resolveGatewayRole(config: Config, options: RoleOptions = {}): GatewayRole {
  const issues: string[] = [];
  const engine = engineOf(config, 'gateway', options, issues);
  const missing = (['WECHAT_APPID', 'WECHAT_SECRET', 'WECHAT_TOKEN'] as const).filter((name) => config[name] === undefined);
  for (const name of missing) issues.push(`${name}: required by the gateway (it creates the QR codes at WeChat)`);
  const confirmation = confirmationOf(config, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return { engine, wechat: { appId: config.WECHAT_APPID!, appSecret: config.WECHAT_SECRET!, token: config.WECHAT_TOKEN! }, confirmation };
}

/**
 * The webhook's settings; throws one ConfigError listing every missing or conflicting variable. The AppSecret
 * is not needed (the webhook never calls WeChat's API).
 */
export function resolveWebhookRole(config: Config, options: RoleOptions = {}): WebhookRole {
  const issues: string[] = [];
  const engine = engineOf(config, 'webhook', options, issues);
  for (const name of ['WECHAT_APPID', 'WECHAT_TOKEN'] as const) {
    if (config[name] === undefined) issues.push(`${name}: required by the webhook`);
  }
  if (config.WECHAT_REQUIRE_ENCRYPTION && config.WECHAT_AES_KEY === undefined) {
    // Every push would be refused: fail at start-up instead of at the first scan.
    issues.push('WECHAT_REQUIRE_ENCRYPTION: needs WECHAT_AES_KEY (the 43-character EncodingAESKey)');
  }
  const confirmation = confirmationOf(config, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return { engine, token: config.WECHAT_TOKEN!, appId: config.WECHAT_APPID!, confirmation };
}
