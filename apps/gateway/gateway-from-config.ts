/**
 * A gateway wired from the configuration: its session signer, its WeChat client on the engine's shared token
 * cache, and its settings. The gateway's own `main.ts` and apps/standalone both build it here, so the two
 * cannot drift apart.
 */
import type { Config, GatewayRole } from '../../libs/config/index.js';
import type { Engine } from '../../libs/engine/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { createWechatClient } from '../../libs/wechat/index.js';
import { createGateway, type Gateway, type GatewayDeps } from './gateway.js';
import { gatewaySettings } from './gateway-settings.js';
import { createSessionSigner, type SessionSigner } from './session-signer.js';
import type { OidcClient } from '../../libs/oidc/oidc-clients.js';
import { oidcSettings, type OidcSettings } from '../../libs/oidc/oidc-settings.js';

export interface GatewayFromConfigOptions {
  engine: Engine;
  logger: Logger;
  metrics: Metrics;
  /** JWT `iss` of the sessions it issues. */
  issuer: string;
  /** Demo mode: the login page links to the phone simulator here. Default: no link. */
  simulatorUrl?: string;
  /** Demo mode reachable from the network (the login page warns). */
  demoExposed?: boolean;
  /** The configuration resolved for this role (`resolveGatewayRole`): credentials and confirmation, checked. */
  role: GatewayRole;
  /** The `/session` namespace's adapter across processes (libs/runtime `socketAdapter`); unset: in memory. */
  sessionAdapter?: GatewayDeps['sessionAdapter'];
  /** Demo mode: a missing OIDC signing key is generated, and the login page links to the demo RP here. */
  demo?: { oidcClients: OidcClient[]; demoRpUrl: string };
}

/** Build the gateway; the caller has resolved (and so checked) the configuration with `resolveGatewayRole`. */
export async function createGatewayFromConfig(
  config: Config,
  options: GatewayFromConfigOptions,
): Promise<{ gateway: Gateway; signer: SessionSigner; oidc: OidcSettings | null }> {
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
  // Throws a ConfigError naming OIDC_CLIENTS, PUBLIC_URL, SESSION_SECRET or OIDC_SIGNING_KEY before anything runs.
  const oidc = oidcSettings(config, options.demo !== undefined ? { demo: true, extraClients: options.demo.oidcClients } : {});
  // Loaded only when there are clients: oidc-provider is heavy, and a gateway without them never needs it.
  const createProvider = oidc !== null ? (await import('../../libs/oidc/oidc-provider.js')).createOidcProvider : undefined;
  const unionidOf = async (openid: string): Promise<string | undefined> => {
    try {
      return (await wechat.getUserInfo(openid)).unionid;
    } catch (err) {
      // The claim is optional: a sign-in without it beats no sign-in while WeChat is unavailable.
      logger.warn({ err }, 'user/info failed: no unionid claim');
      return undefined;
    }
  };
  const gateway = createGateway({
    engine,
    wechat,
    userInfo: wechat,
    oauth: {
      appId: credentials.appId,
      appSecret: credentials.appSecret,
      apiBase: config.WECHAT_API_BASE,
      oauthBase: config.WECHAT_OAUTH_BASE,
    },
    settings: gatewaySettings(config, {
      ...(options.simulatorUrl !== undefined ? { simulatorUrl: options.simulatorUrl } : {}),
      ...(options.demo !== undefined && oidc !== null ? { demoRpUrl: options.demo.demoRpUrl } : {}),
      ...(options.demoExposed === true ? { demoExposed: true } : {}),
    }),
    signer,
    logger,
    metrics,
    ...(options.sessionAdapter !== undefined ? { sessionAdapter: options.sessionAdapter } : {}),
    ...(oidc !== null && createProvider !== undefined ? { oidc: { settings: oidc, createProvider, unionidOf } } : {}),
  });
  return { gateway, signer, oidc };
}
