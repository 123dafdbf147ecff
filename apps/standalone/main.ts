/**
 * `npm start`: the whole product in one process. Without WECHAT_APPID it runs the built-in WeChat simulator.
 */
import { demoModeRefusal, loadConfig } from '../../libs/config/index.js';
import { exitOnStartupError, onShutdownSignal } from '../../libs/runtime/index.js';
import { createLogger } from '../../libs/observability/index.js';
import { startStandalone } from './standalone.js';

/** Shouted, not logged: whoever started the demo must see that other machines can use it. */
const EXPOSED_BANNER =
  '\n  !!! WARNING: DEMO MODE IS REACHABLE FROM THE NETWORK (HOST is not a loopback address) !!!\n' +
  "  !!! The simulator's credentials are public: anyone who reaches this port can log in as any user. !!!\n" +
  '  !!! Unset HOST to keep the demo on this machine (127.0.0.1).                                    !!!\n';

async function bootstrap(): Promise<void> {
  // Before anything else: the demo never starts next to a production setting (libs/config/demo-mode.ts).
  const refusal = demoModeRefusal(process.env);
  if (refusal !== null) throw refusal;
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
  if (app.demoExposed) process.stdout.write(EXPOSED_BANNER);
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
