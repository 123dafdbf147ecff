/**
 * Who may connect and where a request comes from, decided from headers alone.
 */
import { describe, expect, it } from 'vitest';
import { clientIp, gatewaySettings, originAllowed } from '../../apps/gateway/gateway-settings.js';
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
  it('is the peer unless proxies are trusted, then the hop the outermost trusted proxy appended', () => {
    expect(clientIp('::ffff:10.0.0.9', '1.2.3.4', 0)).toBe('10.0.0.9');
    expect(clientIp('10.0.0.9', 'forged, 203.0.113.5', 1)).toBe('203.0.113.5');
    expect(clientIp('10.0.0.9', ['forged', '203.0.113.5, 10.0.0.2'], 2)).toBe('203.0.113.5');
    // Fewer hops than trusted proxies, or a hop that is no address: the request bypassed them, trust the peer.
    expect(clientIp('10.0.0.9', '203.0.113.5', 3)).toBe('10.0.0.9');
    expect(clientIp('10.0.0.9', 'forged, not-an-ip', 1)).toBe('10.0.0.9');
  });
});
