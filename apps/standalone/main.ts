/**
 * `npm start`: the whole product in one process. Without WECHAT_APPID it runs the built-in WeChat simulator.
 */
import { loadConfig } from '../../libs/config/index.js';
import { exitOnStartupError, onShutdownSignal } from '../../libs/runtime/index.js';
import { createLogger } from '../../libs/observability/index.js';
import { startStandalone } from './standalone.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ app: 'standalone', level: config.LOG_LEVEL });
  const app = await startStandalone(config, { logger });
  const demo = app.sim !== undefined;
  process.stdout.write(
    `\n  qrgate is running: open ${app.url}/\n` +
      (demo ? `  WeChat simulator (the "phone"): ${app.url}/sim\n` : '') +
      (demo ? `  a sample site signing in through OpenID Connect: ${app.url}/demo-rp/\n` : '') +
      `  engine: ${app.engine.kind}\n\n`,
  );
  onShutdownSignal(
    async () => {
      await app.gateway.drain(config.SHUTDOWN_TIMEOUT_MS);
      await app.close();
    },
    logger,
    config.SHUTDOWN_TIMEOUT_MS + 5_000,
  );
}

bootstrap().catch(exitOnStartupError);
