/**
 * The one configuration schema: defaults, refusals that name the variable, and values never echoed when
 * they are secrets.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../libs/config/index.js';

const refusal = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.TICKET_TTL_SECONDS).toBe(120);
    expect(config.LOGIN_CONFIRMATION).toBe('tap');
    expect(config.WECHAT_API_BASE).toBe('https://api.weixin.qq.com');
    expect(config.TRUST_PROXY).toEqual([]);
    expect(config.REDIS_URL).toBeUndefined();
    expect(config.ALLOWED_ORIGINS).toEqual([]);
  });

  it('reads whole numbers in decimal digits only; an empty value means the default', () => {
    expect(loadConfig({ PORT: '', TICKET_TTL_SECONDS: ' 45 ' })).toMatchObject({ PORT: 3000, TICKET_TTL_SECONDS: 45 });
    for (const bad of ['0x10', '1e3', '-1', '12.5', 'soon']) expect(refusal({ TICKET_TTL_SECONDS: bad })).toMatch(/TICKET_TTL_SECONDS/);
    expect(refusal({ PORT: '70000' })).toMatch(/PORT/);
  });

  it("reads TRUST_PROXY as the proxies' addresses and CIDRs, refusing hop counts and true", () => {
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8,loopback' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      '127.0.0.1',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
    expect(loadConfig({ TRUST_PROXY: '' }).TRUST_PROXY).toEqual([]);
    for (const bad of ['true', '1', '2', 'maybe', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', '10.0.0.0/x']) {
      expect(refusal({ TRUST_PROXY: bad })).toMatch(/TRUST_PROXY: expected the proxies' addresses or CIDRs/);
    }
  });

  it('splits REDIS_CLUSTER_NODES and ALLOWED_ORIGINS, refusing malformed nodes', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001',
      ALLOWED_ORIGINS: 'https://a.example, https://b.example',
    });
    expect(config.REDIS_CLUSTER_NODES).toEqual(['10.0.0.1:7000', '10.0.0.2:7001']);
    expect(config.ALLOWED_ORIGINS).toEqual(['https://a.example', 'https://b.example']);
    expect(refusal({ REDIS_CLUSTER_NODES: 'redis-without-port' })).toMatch(/REDIS_CLUSTER_NODES/);
    expect(refusal({ REDIS_URL: 'http://redis:6379' })).toMatch(/REDIS_URL/);
    expect(loadConfig({ ALLOWED_ORIGINS: 'https://a.example/' }).ALLOWED_ORIGINS).toEqual(['https://a.example']);
    expect(refusal({ ALLOWED_ORIGINS: '*' })).toMatch(/ALLOWED_ORIGINS: list the origins/);
    expect(refusal({ ALLOWED_ORIGINS: 'shop.example.com' })).toMatch(/ALLOWED_ORIGINS/);
    expect(refusal({ PUBLIC_URL: 'https://login.example/?next=1' })).toMatch(/PUBLIC_URL/);
    expect(loadConfig({ PUBLIC_URL: 'https://example.com/login' }).PUBLIC_URL).toBe('https://example.com/login');
  });

  it('names a bad secret without echoing it', () => {
    const message = refusal({ WECHAT_AES_KEY: 'not-a-43-character-key-but-secret-nonetheless' });
    expect(message).toMatch(/WECHAT_AES_KEY/);
    expect(message).not.toMatch(/secret-nonetheless/);
    expect(refusal({ SESSION_SECRET: 'short' })).not.toMatch(/short"/);
  });
});
