/**
 * The gateway's settings (derived from the one config schema) and the small request helpers that depend on
 * them: who may connect, and which IP a request comes from. Errors live in `gateway-error.ts`.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyaddr from 'proxy-addr';
import { resolveConfirmation, type Config, type Confirmation } from '../../libs/config/index.js';

export interface GatewaySettings {
  ticketTtlSeconds: number;
  /** Origins allowed besides the gateway's own. */
  allowedOrigins: string[];
  /** Externally reachable origin of the gateway, when known. */
  publicUrl?: string;
  /** Whether an address is one of the trusted proxies in front (TRUST_PROXY; none: X-Forwarded-For is ignored). */
  trustProxy: TrustProxy;
  /** Whether TRUST_PROXY names any proxy at all (libraries with a boolean `proxy` switch take this). */
  behindProxy: boolean;
  maxRefreshesPerSocket: number;
  ticketsPerMinute: number;
  exchangesPerMinute: number;
  /** Resumes of a held ticket per client address per minute. */
  resumesPerMinute: number;
  /** Open connections per client address on this gateway. */
  maxConnectionsPerIp: number;
  /** Connections on their way in (not yet in a namespace) this gateway takes at once. */
  maxHandshakesInFlight: number;
  /** WeChat `qrcode/create` calls per day, fleet-wide. */
  wechatQrDailyQuota: number;
  /** `tap` carries the links' secret and public URL: a tap gateway cannot be built without them. */
  confirmation: Confirmation;
  sessionTtlSeconds: number;
  /** Demo mode: link to the phone simulator from the login page. */
  simulatorUrl?: string;
  /** Demo mode: link to the sample OpenID Connect relying party from the login page. */
  demoRpUrl?: string;
  /** Demo mode reachable from the network: the login page says so in a banner. */
  demoExposed?: boolean;
}

export function gatewaySettings(
  config: Config,
  extra: { simulatorUrl?: string; demoRpUrl?: string; demoExposed?: boolean } = {},
): GatewaySettings {
  return {
    ticketTtlSeconds: config.TICKET_TTL_SECONDS,
    allowedOrigins: config.ALLOWED_ORIGINS,
    ...(config.PUBLIC_URL !== undefined ? { publicUrl: config.PUBLIC_URL } : {}),
    trustProxy: trustProxies(config.TRUST_PROXY),
    behindProxy: config.TRUST_PROXY.length > 0,
    maxRefreshesPerSocket: config.MAX_REFRESHES_PER_SOCKET,
    ticketsPerMinute: config.RATE_LIMIT_TICKETS_PER_MINUTE,
    exchangesPerMinute: config.RATE_LIMIT_EXCHANGES_PER_MINUTE,
    resumesPerMinute: config.RATE_LIMIT_RESUMES_PER_MINUTE,
    maxConnectionsPerIp: config.MAX_CONNECTIONS_PER_IP,
    maxHandshakesInFlight: config.MAX_HANDSHAKES_IN_FLIGHT,
    wechatQrDailyQuota: config.WECHAT_QR_DAILY_QUOTA,
    confirmation: resolveConfirmation(config),
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    ...(extra.simulatorUrl !== undefined ? { simulatorUrl: extra.simulatorUrl } : {}),
    ...(extra.demoRpUrl !== undefined ? { demoRpUrl: extra.demoRpUrl } : {}),
    ...(extra.demoExposed === true ? { demoExposed: true } : {}),
  };
}

/**
 * Same origin (the Host the browser talked to, or PUBLIC_URL) or one of ALLOWED_ORIGINS. A request without
 * an Origin header is not a cross-site browser request (curl, server-to-server, same-origin GET) and passes.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, settings: GatewaySettings): boolean {
  if (origin === undefined || origin === '') return true;
  const parsed = URL.parse(origin);
  if (parsed === null) return false;
  return settings.allowedOrigins.includes(parsed.origin) || isOwnOrigin(parsed, host, settings);
}

/** The gateway's own page, however it is reached: PUBLIC_URL, or the Host the browser talked to. */
function isOwnOrigin(parsed: URL, host: string | undefined, settings: GatewaySettings): boolean {
  if (settings.publicUrl === undefined) return host !== undefined && parsed.host === host;
  const publicOrigin = new URL(settings.publicUrl);
  if (publicOrigin.origin === parsed.origin) return true;
  // Same host under another name the browser used (localhost for 127.0.0.1), but never a downgraded scheme.
  return host !== undefined && parsed.host === host && parsed.protocol === publicOrigin.protocol;
}

/**
 * The site a request comes from, as tickets record it: the origin when it is another site (one of
 * ALLOWED_ORIGINS), undefined for the gateway's own page (or no Origin: not a cross-site browser request).
 * Only meaningful for a request `originAllowed` let through.
 */
export function requestSite(origin: string | undefined, host: string | undefined, settings: GatewaySettings): string | undefined {
  if (origin === undefined || origin === '') return undefined;
  const parsed = URL.parse(origin);
  if (parsed === null || isOwnOrigin(parsed, host, settings)) return undefined;
  return settings.allowedOrigins.includes(parsed.origin) ? parsed.origin : undefined;
}

/**
 * The gateway's public origin, the `aud` of tokens for logins begun on its own page: PUBLIC_URL's origin, or
 * the scheme and Host the request reached this gateway with.
 */
export function gatewayOrigin(settings: GatewaySettings, request: { protocol: string; host: string }): string {
  return settings.publicUrl !== undefined ? new URL(settings.publicUrl).origin : `${request.protocol}://${request.host}`;
}

/** proxy-addr's trust test: is the address at hop `i` (0: the TCP peer) one of our proxies? */
export type TrustProxy = (address: string, hop: number) => boolean;

/** Compile TRUST_PROXY's addresses and CIDRs; an empty list trusts nobody. */
export function trustProxies(list: readonly string[]): TrustProxy {
  return list.length === 0 ? () => false : proxyaddr.compile([...list]);
}

/**
 * The client's IP: the TCP peer, unless the peer is a trusted proxy; then X-Forwarded-For is read right to
 * left past every trusted hop, and the first untrusted one is the client (the model of Express's
 * `trust proxy`). Entries further left were written by the client and prove nothing.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | string[] | undefined, trust: TrustProxy): string {
  const direct = (peer ?? 'unknown').replace(/^::ffff:/, '');
  if (peer === undefined || forwardedFor === undefined) return direct;
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor;
  const request = { headers: { 'x-forwarded-for': header }, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
  const address = proxyaddr(request, trust).replace(/^::ffff:/, '');
  // A trusted proxy passing on something that is no address: believe only what we saw ourselves.
  return isIP(address) !== 0 ? address : direct;
}
