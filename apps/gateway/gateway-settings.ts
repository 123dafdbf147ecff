/**
 * The gateway's settings (derived from the one config schema) and the small request helpers that depend on
 * them: who may connect, and which IP a request comes from. Errors live in `gateway-error.ts`.
 */
import { isIP } from 'node:net';
import { resolveConfirmation, type Config, type Confirmation } from '../../libs/config/index.js';

export interface GatewaySettings {
  ticketTtlSeconds: number;
  /** Origins allowed besides the gateway's own. */
  allowedOrigins: string[];
  /** Externally reachable origin of the gateway, when known. */
  publicUrl?: string;
  /** Trusted proxies in front (0: none, X-Forwarded-For is ignored). */
  trustProxy: number;
  maxRefreshesPerSocket: number;
  ticketsPerMinute: number;
  exchangesPerMinute: number;
  /** Resumes of a held ticket per client address per minute. */
  resumesPerMinute: number;
  /** Open connections per client address on this gateway. */
  maxConnectionsPerIp: number;
  /** WeChat `qrcode/create` calls per day, fleet-wide. */
  wechatQrDailyQuota: number;
  /** `tap` carries the links' secret and public URL: a tap gateway cannot be built without them. */
  confirmation: Confirmation;
  sessionTtlSeconds: number;
  /** Demo mode: link to the phone simulator from the login page. */
  simulatorUrl?: string;
  /** Demo mode: link to the sample OpenID Connect relying party from the login page. */
  demoRpUrl?: string;
}

export function gatewaySettings(config: Config, extra: { simulatorUrl?: string; demoRpUrl?: string } = {}): GatewaySettings {
  return {
    ticketTtlSeconds: config.TICKET_TTL_SECONDS,
    allowedOrigins: config.ALLOWED_ORIGINS,
    ...(config.PUBLIC_URL !== undefined ? { publicUrl: config.PUBLIC_URL } : {}),
    trustProxy: config.TRUST_PROXY,
    maxRefreshesPerSocket: config.MAX_REFRESHES_PER_SOCKET,
    ticketsPerMinute: config.RATE_LIMIT_TICKETS_PER_MINUTE,
    exchangesPerMinute: config.RATE_LIMIT_EXCHANGES_PER_MINUTE,
    resumesPerMinute: config.RATE_LIMIT_RESUMES_PER_MINUTE,
    maxConnectionsPerIp: config.MAX_CONNECTIONS_PER_IP,
    wechatQrDailyQuota: config.WECHAT_QR_DAILY_QUOTA,
    confirmation: resolveConfirmation(config),
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    ...(extra.simulatorUrl !== undefined ? { simulatorUrl: extra.simulatorUrl } : {}),
    ...(extra.demoRpUrl !== undefined ? { demoRpUrl: extra.demoRpUrl } : {}),
  };
}

/**
 * Same origin (the Host the browser talked to, or PUBLIC_URL) or one of ALLOWED_ORIGINS. A request without
 * an Origin header is not a cross-site browser request (curl, server-to-server, same-origin GET) and passes.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, settings: GatewaySettings): boolean {
  if (origin === undefined || origin === '') return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false;
  }
  if (settings.allowedOrigins.includes(parsed.origin)) return true;
  if (settings.publicUrl === undefined) return host !== undefined && parsed.host === host;
  const publicOrigin = new URL(settings.publicUrl);
  if (publicOrigin.origin === parsed.origin) return true;
  // Same host under another name the browser used (localhost for 127.0.0.1), but never a downgraded scheme.
  return host !== undefined && parsed.host === host && parsed.protocol === publicOrigin.protocol;
}

/**
 * The client's IP: the socket's peer, or, behind `trustedProxies` proxies, the X-Forwarded-For entry the
 * outermost trusted proxy appended. Everything left of it was written by the client and proves nothing.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trustedProxies: number): string {
  if (trustedProxies > 0 && forwardedFor !== undefined) {
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((hop) => hop.trim())
      .filter(Boolean);
    // Fewer hops than trusted proxies: the request did not come through them, so the header is all claims.
    const hop = hops.length >= trustedProxies ? hops[hops.length - trustedProxies]?.replace(/^::ffff:/, '') : undefined;
    if (hop !== undefined && isIP(hop) !== 0) return hop;
  }
  return (peer ?? 'unknown').replace(/^::ffff:/, '');
}
