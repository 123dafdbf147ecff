/**
 * Run the simulator as its own process: read the configuration, serve the simulator, drain on SIGTERM.
 */
import type { Server } from 'node:http';
import { loadConfig } from '../../libs/config/index.js';
import { createLogger } from '../../libs/observability/index.js';
import { createHttpServer, listen, localUrl, serveMetrics } from '../../libs/runtime/index.js';
import { createWechatSim, type WechatSim } from './wechat-sim.js';

/** Credentials used when WECHAT_APPID/WECHAT_SECRET/WECHAT_TOKEN are unset; never valid at WeChat. */
export const SIM_DEMO_CREDENTIALS = {
  appId: 'wxqrgatedemo00000',
  appSecret: 'qrgate-demo-secret-not-for-production',
  token: 'qrgate-demo-token',
} as const;

/** The webhook's default address, where the standalone demo or `npm run start:webhook` listens. */
const DEFAULT_WEBHOOK_URL = 'http://127.0.0.1:3000/wechat';
/** Without PORT the simulator stays off 3000, the webhook's default port. */
const DEFAULT_PORT = 3100;

/**
 * `SIM_API_LATENCY_MS`: how long each platform API call waits (the benchmark's "WeChat at 80 ms"). A knob of
 * the simulator alone, so it is read here rather than in the product's configuration schema.
 */
function apiLatencyMs(env: Record<string, string | undefined>): number {
  const raw = env.SIM_API_LATENCY_MS;
  if (raw === undefined || raw === '') return 0;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 60_000) {
    throw new Error(`SIM_API_LATENCY_MS must be a whole number of milliseconds from 0 to 60000, got ${JSON.stringify(raw)}`);
  }
  return value;
}

export interface RunningSim {
  server: Server;
  sim: WechatSim;
  url: string;
  /** Where its metrics listener answers (`GET /metrics`). */
  metricsUrl: string;
  close(): Promise<void>;
}

/** Start listening on PORT; the returned `close` stops the server and aborts pushes in flight. */
export async function bootstrap(env: Record<string, string | undefined> = process.env): Promise<RunningSim> {
  const config = loadConfig(env);
  const logger = createLogger({ app: 'wechat-sim', level: config.LOG_LEVEL });
  const demo = config.WECHAT_APPID === undefined || config.WECHAT_SECRET === undefined || config.WECHAT_TOKEN === undefined;
  if (demo) {
    logger.info(
      { appId: SIM_DEMO_CREDENTIALS.appId },
      'WECHAT_APPID, WECHAT_SECRET or WECHAT_TOKEN unset: the simulator uses the demo credentials (give the webhook the same ones)',
    );
  }
  const sim = createWechatSim({
    appId: demo ? SIM_DEMO_CREDENTIALS.appId : config.WECHAT_APPID!,
    appSecret: demo ? SIM_DEMO_CREDENTIALS.appSecret : config.WECHAT_SECRET!,
    token: demo ? SIM_DEMO_CREDENTIALS.token : config.WECHAT_TOKEN!,
    ...(config.WECHAT_AES_KEY !== undefined ? { encodingAesKey: config.WECHAT_AES_KEY } : {}),
    webhookUrl: config.WEBHOOK_URL ?? DEFAULT_WEBHOOK_URL,
    apiLatencyMs: apiLatencyMs(env),
    logger,
  });
  const server = createHttpServer(sim.app.callback(), { requestTimeoutSeconds: config.HTTP_REQUEST_TIMEOUT_SECONDS });
  const port = env.PORT === undefined ? DEFAULT_PORT : config.PORT;
  const host = config.HOST ?? '0.0.0.0';
  const url = localUrl(host, await listen(server, host, port));
  const metricsServer = await serveMetrics(sim.registry, host, config.METRICS_PORT, config.HTTP_REQUEST_TIMEOUT_SECONDS);
  logger.info(
    { url, phone: `${url}/sim`, webhook: config.WEBHOOK_URL ?? DEFAULT_WEBHOOK_URL, metricsPort: metricsServer.port },
    'WeChat simulator listening',
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      await sim.close();
      await metricsServer.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    })());
  const onSignal = (): void => {
    const deadline = setTimeout(() => server.closeAllConnections(), config.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    void close().then(() => process.exit(0));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return { server, sim, url, metricsUrl: metricsServer.url, close };
}
