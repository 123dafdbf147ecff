/**
 * One typed configuration schema, parsed once at start-up. An invalid setting stops the process with a
 * message naming the variable and what it allows.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');
/**
 * A whole number in decimal digits, with a default when unset or empty. (`z.coerce.number()` would read an
 * empty value as 0 and accept `0x10` or `1e6`.)
 */
const int = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? String(fallback) : v.trim()))
    .pipe(z.string().regex(/^\d+$/, 'expected a whole number in decimal digits'))
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const TRUST_PROXY_HINT =
  "expected the proxies' addresses or CIDRs, comma-separated (10.0.0.0/8,127.0.0.1): a hop count or true would believe X-Forwarded-For from any peer";
/** An IP, a CIDR, or one of proxy-addr's names for the private ranges. */
function isProxyAddress(entry: string): boolean {
  if (entry === 'loopback' || entry === 'linklocal' || entry === 'uniquelocal') return true;
  const [ip, bits, ...rest] = entry.split('/');
  if (ip === undefined || rest.length > 0) return false;
  const family = isIP(ip);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const hostPort = z.string().regex(/^[^:\s]+:\d{1,5}$/, 'expected host:port');

const schema = z.object({
  /** HTTP port of the process. */
  PORT: int(0, 65535, 3000),
  /**
   * Port of the Prometheus metrics listener (`GET /metrics` only), apart from PORT so that no proxy in front of
   * the app can expose it; 0: any free port.
   */
  METRICS_PORT: int(0, 65535, 9464),
  /**
   * Seconds a client has to send a whole HTTP request (headers and body); past it Node answers 408 and closes
   * the connection, so a trickling client cannot hold one (Socket.IO long-polling is not affected).
   */
  HTTP_REQUEST_TIMEOUT_SECONDS: int(1, 300, 15),
  /** Interface to listen on (the metrics listener too). Unset: 0.0.0.0, except the demo (`npm start` without WECHAT_APPID): 127.0.0.1. */
  HOST: optionalString,
  /** Redis URL (`redis://` or `rediss://`). Unset (and no cluster): the in-process memory engine. */
  REDIS_URL: optionalString.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, 'expected redis:// or rediss:// URL')
      .optional(),
  ),
  /** Redis Cluster seed nodes, `host:port,host:port,…`. Takes precedence over REDIS_URL. */
  REDIS_CLUSTER_NODES: optionalString.pipe(
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .pipe(z.array(hostPort).min(1))
      .optional(),
  ),
  /**
   * Milliseconds a scan's or a phone decision's ticket write waits for a Redis Cluster replica to acknowledge
   * it (`WAIT`); past it the webhook answers 503 so that WeChat re-sends the push (the confirmation page: 503,
   * tap again), instead of confirming a write a failover could lose. Only on a Cluster whose master has a replica.
   */
  REDIS_REPLICA_ACK_TIMEOUT_MS: int(1, 4_000, 1_000),
  /** Official Account AppID. Unset in the standalone demo: the built-in WeChat simulator is used. */
  WECHAT_APPID: optionalString,
  /** Official Account AppSecret. */
  WECHAT_SECRET: optionalString,
  /** The Token configured for the server URL (signs WeChat's pushes). */
  WECHAT_TOKEN: optionalString,
  /** 43-character EncodingAESKey for safe mode. */
  WECHAT_AES_KEY: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9]{43}$/, 'expected 43 letters and digits')
      .optional(),
  ),
  /** The previous EncodingAESKey, accepted during a key rotation. */
  WECHAT_AES_KEY_PREVIOUS: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9]{43}$/, 'expected 43 letters and digits')
      .optional(),
  ),
  /** Refuse plaintext pushes (accept only safe-mode ones). */
  WECHAT_REQUIRE_ENCRYPTION: bool.default(false),
  /** Base URL of WeChat's API. */
  WECHAT_API_BASE: z.url({ protocol: /^https?$/ }).default('https://api.weixin.qq.com'),
  /** Host of WeChat's web-authorization page (the in-WeChat login). */
  WECHAT_OAUTH_BASE: z.url({ protocol: /^https?$/ }).default('https://open.weixin.qq.com'),
  /** Lifetime of a pending ticket and its QR code, seconds. */
  TICKET_TTL_SECONDS: int(1, 2592000, 120),
  /** How a scan becomes a login: `tap` (confirm on the phone, against QRLJacking) or `scan` (at once). */
  LOGIN_CONFIRMATION: z.enum(['scan', 'tap']).default('tap'),
  /** Secret for signing confirmation links and, without SESSION_SIGNING_KEY, nothing else. */
  SESSION_SECRET: optionalString.pipe(z.string().min(16, 'must be at least 16 characters').optional()),
  /** PEM private key (EC P-256 or RSA) that signs session JWTs. Unset: a key is generated at start-up. */
  SESSION_SIGNING_KEY: optionalString,
  /** Lifetime of a session JWT, seconds. */
  SESSION_TTL_SECONDS: int(60, 31_536_000, 86_400),
  /** Externally reachable origin of the gateway (confirmation links, cookies). */
  PUBLIC_URL: optionalString.pipe(
    z
      .url({ protocol: /^https?$/ })
      .refine((u) => new URL(u).search === '' && new URL(u).hash === '', 'expected an origin (and path), without ?query or #fragment')
      .optional(),
  ),
  /** Origins allowed to open sockets and call the exchange endpoint, comma separated. Unset: same origin. */
  ALLOWED_ORIGINS: optionalString
    .transform((v) =>
      v === undefined
        ? []
        : v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .refine((o) => o !== '*', 'list the origins: * would let any site open sockets and redeem codes')
          .refine((o) => URL.canParse(o) && /^https?:$/.test(new URL(o).protocol), 'expected origins like https://shop.example.com')
          // `https://shop.example.com/` and `https://shop.example.com` are one origin: compare normalised.
          .transform((o) => new URL(o).origin),
      ),
    ),
  /** New tickets allowed per client IP per minute. */
  RATE_LIMIT_TICKETS_PER_MINUTE: int(1, 1_000_000, 60),
  /** Code exchanges allowed per client IP per minute. */
  RATE_LIMIT_EXCHANGES_PER_MINUTE: int(1, 1_000_000, 60),
  /** Ticket resumes (reconnections with `auth`) allowed per client address (IPv6: per /64) per minute. */
  RATE_LIMIT_RESUMES_PER_MINUTE: int(1, 1_000_000, 60),
  /** Open Socket.IO connections allowed per client address (IPv6: per /64) on one gateway. */
  MAX_CONNECTIONS_PER_IP: int(1, 1_000_000, 50),
  /**
   * Joins one gateway runs at once (a CONNECT received, the namespace's checks not done yet); while that many
   * are under way a new connection is refused with `GATEWAY_BUSY` before a session exists, and the browser
   * retries with backoff. Idle connections (no CONNECT yet) do not count.
   */
  MAX_HANDSHAKES_IN_FLIGHT: int(1, 100_000, 128),
  /**
   * QR codes the WeChat account may create per day (`qrcode/create`), shared by every gateway through the
   * engine: spent evenly over the day, with a burst of 1% and a 5% reserve that is never spent.
   */
  WECHAT_QR_DAILY_QUOTA: int(100, 100_000_000, 100_000),
  /** Refreshes allowed on one socket. */
  MAX_REFRESHES_PER_SOCKET: int(1, 10_000, 20),
  /**
   * The proxies in front, by address: IPs or CIDRs (`10.0.0.0/8,127.0.0.1`; also `loopback`, `linklocal`,
   * `uniquelocal`). X-Forwarded-For counts only when the TCP peer is one of them, read right to left past
   * trusted hops. Unset: none, the header is ignored.
   */
  TRUST_PROXY: optionalString.pipe(
    z
      .string()
      .optional()
      .transform((v) =>
        v === undefined
          ? []
          : v
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
      )
      .pipe(z.array(z.string().refine(isProxyAddress, TRUST_PROXY_HINT))),
  ),
  /** Accepted clock skew of WeChat's push timestamps, seconds. */
  WEBHOOK_MAX_SKEW_SECONDS: int(1, 86_400, 300),
  /** Deadline for a graceful drain on SIGTERM, milliseconds. */
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000, 10_000),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * OpenID Connect clients, a JSON array of `{ client_id, client_secret | token_endpoint_auth_method: "none",
   * redirect_uris, post_logout_redirect_uris?, grant_types? }`. Unset (and no file): the provider at /oidc is off.
   */
  OIDC_CLIENTS: optionalString,
  /** Path of a JSON file holding the same array as OIDC_CLIENTS (not both). */
  OIDC_CLIENTS_FILE: optionalString,
  /** PKCS#8 PEM RSA key signing ID tokens (RS256); every gateway must share it. Default: SESSION_SIGNING_KEY when RSA. */
  OIDC_SIGNING_KEY: optionalString,
  /** The previous ID-token key, still published at jwks_uri during a rotation (never signs). */
  OIDC_SIGNING_KEY_PREVIOUS: optionalString,
  /**
   * The Official Account's existing server URL: every verified push that is not a login scan is forwarded
   * there as WeChat sent it, and its answer goes back to WeChat. Unset: such pushes are answered `success`.
   */
  WECHAT_FORWARD_URL: optionalString.pipe(
    z
      .url({ protocol: /^https?$/ })
      .refine(
        (u) => new URL(u).search === '' && new URL(u).hash === '',
        "expected a URL without ?query or #fragment (WeChat's signed query is appended)",
      )
      .optional(),
  ),
  /** Path of a JSON file with the account's own texts for the scanner's replies. Unset: the built-in texts. */
  REPLY_TEXTS_FILE: optionalString,
  /** Simulator only: where it pushes WeChat events. */
  WEBHOOK_URL: optionalString.pipe(z.url({ protocol: /^https?$/ }).optional()),
});

export type Config = z.infer<typeof schema>;

/** Every environment variable qrgate reads. */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse the environment. Throws ConfigError whose lines each name the offending variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '(root)');
        // Never echo credentials back into logs.
        const shown = /SECRET|KEY|TOKEN/.test(name) ? 'value hidden' : `got ${JSON.stringify(env[name] ?? null)}`;
        return `${name}: ${issue.message} (${shown})`;
      }),
    );
  }
  const config = result.data;
  if (config.METRICS_PORT !== 0 && config.METRICS_PORT === config.PORT) {
    throw new ConfigError([`METRICS_PORT: must differ from PORT, or metrics would be public (got ${config.METRICS_PORT})`]);
  }
  return config;
}

/** What signs and locates the confirmation links of `tap` mode (the `tap` branch of `Confirmation`, `roles.ts`). */
export interface ConfirmationLinkConfig {
  /** SESSION_SECRET: the HMAC key of the links. */
  secret: string;
  /** PUBLIC_URL: where the scanner's phone reaches the gateway's confirmation page. */
  publicUrl: string;
}
