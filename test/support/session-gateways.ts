/**
 * Gateways in this process sharing one store, for the session tests (issue 12): each gateway gets its own
 * engine (on Redis or a Redis Cluster, its own connections, as separate processes would have) or all share one
 * memory engine; all share one signing key, as a deployment's gateways do. `signIn` logs a browser in the way
 * a person does: a `/login` socket with that browser's User-Agent, a scan of its ticket, the code exchange.
 */
import { generateKeyPairSync } from 'node:crypto';
import { pino } from 'pino';
import { createGateway, createSessionSigner, gatewaySettings, type Gateway } from '../../apps/gateway/index.js';
import { loadConfig, type EngineChoice } from '../../libs/config/index.js';
import type { Engine } from '../../libs/engine/index.js';
import { createLoginService } from '../../libs/login/index.js';
import { createMetrics } from '../../libs/observability/index.js';
import { SESSION_NAMESPACE } from '../../libs/protocol/index.js';
import { createEngine, createSessionAdapter, type ConfiguredEngine } from '../../libs/runtime/index.js';
import { FakeWechat } from './gateway-harness.js';
import { serve, type Served } from './http.js';
import { LoginBrowser } from './login-browser.js';

export interface SessionGateway {
  url: string;
  gateway: Gateway;
  engine: Engine;
}

export interface SignedIn {
  openid: string;
  token: string;
  /** The `qrgate_session` cookie as a `Cookie` header. */
  cookie: string;
  /** Send the same exchange again (a retry whose answer was lost): its status and token. */
  replay(): Promise<{ status: number; token: string }>;
}

export interface SessionGateways {
  readonly gateways: SessionGateway[];
  /** Sign `openid` in from a browser with `userAgent` on gateway `index`. */
  signIn(index: number, openid: string, userAgent: string): Promise<SignedIn>;
  close(): Promise<void>;
}

export const ISSUER = 'http://qrgate.test';

export async function startSessionGateways(
  choice: EngineChoice,
  count: number,
  env: Record<string, string> = {},
): Promise<SessionGateways> {
  const privateKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const settings = gatewaySettings(
    loadConfig({ LOGIN_CONFIRMATION: 'scan', RATE_LIMIT_EXCHANGES_PER_MINUTE: '1000', RATE_LIMIT_TICKETS_PER_MINUTE: '1000', ...env }),
  );
  const logger = pino({ level: 'silent' });
  const engines: ConfiguredEngine[] = [];
  const served: Served[] = [];
  const browsers: LoginBrowser[] = [];
  const gateways: SessionGateway[] = [];
  const shared = choice.kind === 'memory' ? createEngine(choice) : undefined;
  if (shared !== undefined) engines.push(shared);
  try {
    for (let i = 0; i < count; i++) {
      const configured = shared ?? createEngine(choice);
      if (shared === undefined) engines.push(configured);
      const signer = await createSessionSigner({ privateKeyPem, issuer: ISSUER, ttlSeconds: settings.sessionTtlSeconds });
      const metrics = createMetrics({ defaultMetrics: false });
      // On Redis, `/session` runs on the sharded adapter over this gateway's own connections, as main.ts wires it.
      const sessionAdapter =
        configured.connections !== undefined ? await createSessionAdapter(configured.connections, SESSION_NAMESPACE) : undefined;
      const gateway = createGateway({
        engine: configured.engine,
        wechat: new FakeWechat(),
        settings,
        signer,
        logger,
        metrics,
        ...(sessionAdapter !== undefined ? { sessionAdapter } : {}),
      });
      const server = await serve(gateway.app.callback());
      gateway.attach(server.server);
      served.push({
        url: server.url,
        close: async () => {
          await gateway.close();
          await server.close();
        },
      });
      gateways.push({ url: server.url, gateway, engine: configured.engine });
    }
  } catch (error) {
    for (const s of served) await s.close();
    for (const e of engines) await e.close();
    throw error;
  }
  const login = createLoginService({ engine: gateways[0]!.engine, metrics: createMetrics({ defaultMetrics: false }), logger });

  return {
    gateways,
    async signIn(index, openid, userAgent) {
      const url = gateways[index]!.url;
      const browser = await LoginBrowser.open(url, { extraHeaders: { 'user-agent': userAgent } });
      browsers.push(browser);
      // As the webhook would: with the QR code's own WeChat ticket and the account that saw the scan.
      const stored = await login.read(browser.ticket.ticket);
      if (stored === null) throw new Error('the ticket is not in the store');
      const scanned = await login.scan({
        ticketId: stored.id,
        openid,
        mode: 'scan',
        qrTicket: stored.qr.wechatTicket,
        appId: stored.qr.appId,
      });
      if (scanned.kind !== 'confirmed') throw new Error(`scan did not confirm: ${scanned.kind}`);
      const { code } = await browser.waitFor('login');
      const exchanged = await browser.exchange(code);
      browser.close();
      if (exchanged.status !== 200) throw new Error(`exchange failed: ${exchanged.status} ${JSON.stringify(exchanged.body)}`);
      const cookie = /qrgate_session=[^;]+/.exec(exchanged.setCookie ?? '')?.[0];
      if (cookie === undefined) throw new Error('no session cookie');
      const replay = async (): Promise<{ status: number; token: string }> => {
        const again = await browser.exchange(code);
        return { status: again.status, token: again.body.token };
      };
      return { openid, token: exchanged.body.token, cookie, replay };
    },
    async close() {
      for (const b of browsers) b.close();
      for (const s of served) await s.close();
      for (const e of engines) await e.close();
    },
  };
}
