/**
 * The standalone product started in-process on a free port with the given settings.
 */
import { startStandalone, type Standalone } from '../../apps/standalone/standalone.js';
import { loadConfig } from '../../libs/config/index.js';

export async function startTestStandalone(env: Record<string, string> = {}): Promise<Standalone> {
  const config = loadConfig({ PORT: '0', METRICS_PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  return startStandalone(config);
}
