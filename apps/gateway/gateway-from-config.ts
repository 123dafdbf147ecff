/**
 * A gateway wired from the configuration: its session signer, its WeChat client on the engine's shared token
 * cache, and its settings. The gateway's own `main.ts` and apps/standalone both build it here, so the two
 * cannot drift apart.
 */
import type { Config, GatewayRole } from '../../libs/config/index.js';
import type { Engine } from '../../libs/engine/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { createWechatClient } from '../../libs/wechat/index.js';
import { createGateway, type Gateway } from './gateway.js';
import { gatewaySettings } from './gateway-settings.js';
import { createSessionSigner, type SessionSigner } from './session-signer.js';

export interface GatewayFromConfigOptions {
  engine: Engine;
  logger: Logger;
  metrics: Metrics;
  /** JWT `iss` of the sessions it issues. */
  issuer: string;
  /** Demo mode: the login page links to the phone simulator here. Default: no link. */
  simulatorUrl?: string;
  /** The configuration resolved for this role (`resolveGatewayRole`): credentials and confirmation, checked. */
  role: GatewayRole;
}

/** Build the gateway; the caller has resolved (and so checked) the configuration with `resolveGatewayRole`. */
export async function createGatewayFromConfig(
  config: Config,
  options: GatewayFromConfigOptions,
): Promise<{ gateway: Gateway; signer: SessionSigner }> {
  const { wechat: credentials } = options.role;
  const { engine, logger, metrics } = options;
  const signer = await createSessionSigner({
    ...(config.SESSION_SIGNING_KEY !== undefined ? { privateKeyPem: config.SESSION_SIGNING_KEY } : {}),
    issuer: options.issuer,
    ttlSeconds: config.SESSION_TTL_SECONDS,
  });
  const wechat = createWechatClient({
    apiBase: config.WECHAT_API_BASE,
    appId: credentials.appId,
    appSecret: credentials.appSecret,
    kv: engine.kv,
    metrics,
    logger,
  });
  const gateway = createGateway({
    engine,
    wechat,
    userInfo: wechat,
    oauth: { appId: credentials.appId, appSecret: credentials.appSecret, apiBase: config.WECHAT_API_BASE, oauthBase: config.WECHAT_OAUTH_BASE },
    settings: gatewaySettings(config, options.simulatorUrl !== undefined ? { simulatorUrl: options.simulatorUrl } : {}),
    signer,
    logger,
    metrics,
  });
  return { gateway, signer };
}
