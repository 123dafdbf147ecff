/**
 * Demo mode (`npm start` without WeChat credentials: the built-in simulator, whose Token and AppID are
 * published) must never touch production. A demo sharing production's Redis let anyone sign a scan with the
 * demo Token and get a production session for any openid; a blank WECHAT_APPID (an unfilled Secret) started
 * the demo silently. So the demo is chosen only by WECHAT_APPID being absent, and refuses to start when any
 * production setting is present, naming each. Pure: it reads the raw environment, before the schema, because
 * the schema reads a blank value as unset.
 */
import { ConfigError } from './config.js';

/** Settings that only production has: their presence means this process is not a throwaway demo. */
export const PRODUCTION_ONLY_SETTINGS = [
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'SESSION_SIGNING_KEY',
  'WECHAT_SECRET',
  'WECHAT_TOKEN',
] as const;

/** The interface the demo listens on unless HOST is set: this machine only. */
export const DEMO_HOST = '127.0.0.1';

/** True when `env` asks for the demo: WECHAT_APPID is absent (set but blank is a mistake, not the demo). */
export const isDemoEnvironment = (env: Readonly<Record<string, string | undefined>>): boolean => env.WECHAT_APPID === undefined;

/**
 * Why the standalone product must not start, or null. A WECHAT_APPID set but blank is refused in every case;
 * without WECHAT_APPID (the demo) every production-only setting that is set is refused.
 */
export function demoModeRefusal(env: Readonly<Record<string, string | undefined>>): ConfigError | null {
  const issues: string[] = [];
  const appId = env.WECHAT_APPID;
  if (appId !== undefined && appId.trim() === '') {
    issues.push(
      'WECHAT_APPID: set but blank. Give the Official Account AppID, or unset WECHAT_APPID for the demo (the built-in simulator)',
    );
  }
  if (isDemoEnvironment(env)) {
    for (const name of PRODUCTION_ONLY_SETTINGS) {
      const value = env[name];
      if (value === undefined || value.trim() === '') continue;
      issues.push(
        `${name}: is a production setting, and WECHAT_APPID is unset (the demo, whose simulator credentials are public). ` +
          'The demo refuses to run with it; set WECHAT_APPID, WECHAT_SECRET and WECHAT_TOKEN for a real account, or unset ' +
          name,
      );
    }
  }
  return issues.length > 0 ? new ConfigError(issues) : null;
}

/** True for an interface only this machine reaches (so the demo is not on the network). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
