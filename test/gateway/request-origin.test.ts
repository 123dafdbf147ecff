/**
 * Who may connect and where a request comes from, decided from headers alone.
 */
import { describe, expect, it } from 'vitest';
import { clientIp, gatewaySettings, originAllowed, trustProxies } from '../../apps/gateway/gateway-settings.js';
import { loadConfig } from '../../libs/config/index.js';

// Scan mode: a tap-mode gateway's settings now carry SESSION_SECRET and PUBLIC_URL, which these origin cases do not need.
const settings = (env: Record<string, string> = {}) => gatewaySettings(loadConfig({ LOGIN_CONFIRMATION: 'scan', ...env }));

describe('originAllowed', () => {
  it('lets same-origin and origin-less requests through by default, and nothing else', () => {
    expect(originAllowed(undefined, 'login.example', settings())).toBe(true);
    expect(originAllowed('http://login.example', 'login.example', settings())).toBe(true);
    expect(originAllowed('https://evil.example', 'login.example', settings())).toBe(false);
    expect(originAllowed('null', 'login.example', settings())).toBe(false);
  });

  it('accepts listed origins however they were written, and PUBLIC_URL', () => {
    const s = settings({ ALLOWED_ORIGINS: 'https://shop.example/', PUBLIC_URL: 'https://login.example' });
    expect(originAllowed('https://shop.example', 'login.example', s)).toBe(true);
    expect(originAllowed('https://login.example', 'internal:3000', s)).toBe(true);
  });

  it('never accepts a downgraded scheme for the same host when PUBLIC_URL is https', () => {
    const s = settings({ PUBLIC_URL: 'https://login.example' });
    expect(originAllowed('http://login.example', 'login.example', s)).toBe(false);
  });
});

describe('clientIp', () => {
  const none = trustProxies([]);
  const local = trustProxies(['10.0.0.0/8', '127.0.0.1']);

  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientIp('::ffff:10.0.0.9', '1.2.3.4', none)).toBe('10.0.0.9');
    expect(clientIp('10.0.0.9', undefined, local)).toBe('10.0.0.9');
  });

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', () => {
    expect(clientIp('203.0.113.7', '198.51.100.1', local)).toBe('203.0.113.7');
    expect(clientIp('::ffff:203.0.113.7', '10.0.0.2, 198.51.100.1', local)).toBe('203.0.113.7');
  });

  it('walks right to left past trusted hops to the first untrusted one', () => {
    expect(clientIp('10.0.0.9', 'forged, 203.0.113.5', local)).toBe('203.0.113.5');
    expect(clientIp('::ffff:127.0.0.1', ['forged', '203.0.113.5, 10.0.0.2'], local)).toBe('203.0.113.5');
    // Every hop trusted: the leftmost is the client.
    expect(clientIp('10.0.0.9', '10.1.1.1, 10.0.0.2', local)).toBe('10.1.1.1');
  });

  it('falls back to the peer when a trusted proxy passes on no address', () => {
    expect(clientIp('10.0.0.9', 'not-an-ip', local)).toBe('10.0.0.9');
  });
});
