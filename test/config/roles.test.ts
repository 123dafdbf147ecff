/**
 * Settings resolved per role: one ConfigError naming every missing variable, typed results (a tap
 * confirmation carries its secret and URL), and the engine choice.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, engineChoice, loadConfig, resolveGatewayRole, resolveWebhookRole } from '../../libs/config/index.js';

const wechat = { WECHAT_APPID: 'wx0123456789abcdef', WECHAT_SECRET: 'secret-of-the-account', WECHAT_TOKEN: 'token' };
const issuesOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  return [];
};

describe('engine choice', () => {
  it('is memory, Redis or a cluster, cluster first', () => {
    expect(engineChoice(loadConfig({}))).toEqual({ kind: 'memory' });
    expect(engineChoice(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toEqual({ kind: 'redis', url: 'redis://127.0.0.1:6379' });
    expect(engineChoice(loadConfig({ REDIS_URL: 'redis://r:1', REDIS_CLUSTER_NODES: 'a:1,b:2' }))).toEqual({
      kind: 'redis-cluster',
      nodes: ['a:1', 'b:2'],
    });
  });
});

describe('gateway role', () => {
  it('lists every problem at once, each naming its variable', () => {
    const issues = issuesOf(() => resolveGatewayRole(loadConfig({ LOGIN_CONFIRMATION: 'tap' })));
    expect(issues.map((line) => line.split(':')[0])).toEqual([
      'REDIS_URL',
      'WECHAT_APPID',
      'WECHAT_SECRET',
      'WECHAT_TOKEN',
      'SESSION_SECRET',
      'PUBLIC_URL',
    ]);
  });

  it('carries the secret and public URL in tap mode', () => {
    const role = resolveGatewayRole(
      loadConfig({
        ...wechat,
        REDIS_URL: 'redis://r:1',
        LOGIN_CONFIRMATION: 'tap',
        SESSION_SECRET: 's'.repeat(32),
        PUBLIC_URL: 'https://login.example',
      }),
    );
    expect(role.confirmation).toEqual({ mode: 'tap', secret: 's'.repeat(32), publicUrl: 'https://login.example' });
    expect(role.engine).toEqual({ kind: 'redis', url: 'redis://r:1' });
    expect(role.wechat.appId).toBe(wechat.WECHAT_APPID);
  });

  it('accepts the memory engine inside one process', () => {
    const role = resolveGatewayRole(loadConfig({ ...wechat, LOGIN_CONFIRMATION: 'scan' }), { inProcess: true });
    expect(role).toMatchObject({ engine: { kind: 'memory' }, confirmation: { mode: 'scan' } });
  });
});

describe('webhook role', () => {
  it('needs no AppSecret, but an AES key when encryption is required', () => {
    const issues = issuesOf(() =>
      resolveWebhookRole(
        loadConfig({ WECHAT_APPID: wechat.WECHAT_APPID, WECHAT_TOKEN: 't', WECHAT_REQUIRE_ENCRYPTION: 'true', LOGIN_CONFIRMATION: 'scan' }),
        { inProcess: true },
      ),
    );
    expect(issues).toEqual(['WECHAT_REQUIRE_ENCRYPTION: needs WECHAT_AES_KEY (the 43-character EncodingAESKey)']);
  });
});
