/**
 * qrgate as a production OpenID Connect provider for tests: one private Redis, the WeChat simulator, a webhook
 * and two gateway processes sharing the issuer (gateway A's origin), the RSA key and SESSION_SECRET. Whatever
 * starts is stopped by `stop()`, also when a later start fails.
 */
import { freePort, startApp, type AppProcess } from './app-process.js';
import { SCALE_CREDENTIALS } from './cluster.js';
import { rsaKeyPem } from './oidc-rp.js';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

export interface OidcDeployment {
  sim: AppProcess;
  /** Gateway A (the issuer's origin) and gateway B. */
  gateways: [AppProcess, AppProcess];
  /** `<gateway A>/oidc`. */
  issuer: string;
  stop(): Promise<void>;
}

/** Start it with `clients` (the OIDC_CLIENTS array) in `confirmation` mode. */
export async function startOidcDeployment(clients: unknown[], confirmation: 'scan' | 'tap' = 'scan'): Promise<OidcDeployment> {
  const started: AppProcess[] = [];
  let redis: RedisServerHandle | undefined;
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((app) => app.stop('SIGTERM', 10_000)));
    await redis?.stop();
  };
  try {
    redis = await startRedisServer();
    const [webhookPort, portA, portB] = await Promise.all([freePort(), freePort(), freePort()]);
    const publicUrl = `http://127.0.0.1:${portA}`;
    const secret = 'shared-session-secret-of-the-gateways';
    const common = {
      REDIS_URL: redis.url,
      ...SCALE_CREDENTIALS,
      LOGIN_CONFIRMATION: confirmation,
      SESSION_SECRET: secret,
      PUBLIC_URL: publicUrl,
    };
    const sim = await startApp('wechat-sim', { ...SCALE_CREDENTIALS, WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/wechat` });
    started.push(sim);
    const gatewayEnv = { ...common, WECHAT_API_BASE: sim.url, OIDC_CLIENTS: JSON.stringify(clients), OIDC_SIGNING_KEY: rsaKeyPem() };
    // One at a time, so that a failed start leaves nothing running untracked.
    started.push(await startApp('webhook', { ...common, PORT: String(webhookPort) }));
    const a = await startApp('gateway', { ...gatewayEnv, PORT: String(portA) });
    started.push(a);
    const b = await startApp('gateway', { ...gatewayEnv, PORT: String(portB) });
    started.push(b);
    return { sim, gateways: [a, b], issuer: `${publicUrl}/oidc`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
