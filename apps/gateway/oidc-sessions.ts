/**
 * The OpenID Connect provider's sessions as qrgate sessions (issue 12): each client a user signs in to is
 * recorded like any other session (`method: 'oidc'`, its client, its `sid`: the provider's per-client `sid`,
 * the one in the client's ID token), so it shows in the user's list and can be ended there or from the phone.
 * Ending one ends the provider's session it belongs to: every client of that session with a
 * `backchannel_logout_uri` gets the OpenID Back-Channel Logout request (a signed `logout_token` naming `sub`
 * and `sid`), its other clients' records end too, and the provider session is destroyed, so the next
 * authorization request asks the user to sign in again.
 */
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { SessionBook, SessionRecord } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { clientIp, type GatewaySettings } from './gateway-settings.js';

interface BackchannelClient {
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string): Promise<void>;
}

export interface OidcSessionsDeps {
  provider: Provider;
  sessions: SessionBook;
  settings: GatewaySettings;
  logger: Logger;
  /** Told of each session recorded here (to announce it) and of the ones ended as a consequence. */
  onBegun(record: SessionRecord): void;
  onEnded(records: readonly SessionRecord[]): void;
  now?: () => number;
}

export interface OidcSessions {
  /** End the provider sessions of these (ended) records, telling their clients. Never throws. */
  end(records: readonly SessionRecord[]): Promise<void>;
}

export function watchOidcSessions(deps: OidcSessionsDeps): OidcSessions {
  const { provider, sessions, settings, logger } = deps;
  const now = deps.now ?? Date.now;

  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const { session, client } = ctx.oidc;
    if (session?.accountId === undefined || client === undefined) return;
    const sid = session.sidFor(client.clientId);
    if (typeof sid !== 'string') return;
    const expiresAt = typeof session.exp === 'number' ? session.exp * 1000 : now() + settings.sessionTtlSeconds * 1000;
    sessions
      .begin({
        sid,
        sub: session.accountId,
        userAgent: ctx.get('user-agent'),
        ip: clientIp(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], settings.trustProxy),
        createdAt: now(),
        expiresAt,
        method: 'oidc',
        client: client.clientId,
        providerSession: session.uid,
      })
      .then(
        (record) => {
          if (record.ended === undefined) deps.onBegun(record);
        },
        (err: unknown) => logger.warn({ err }, 'could not record an OpenID Connect session'),
      );
  });

  const endOne = async (record: SessionRecord): Promise<void> => {
    if (record.method !== 'oidc' || record.providerSession === undefined) return;
    const session = await provider.Session.findByUid(record.providerSession);
    if (session === undefined || session.accountId !== record.sub) return;
    const others: SessionRecord[] = [];
    for (const clientId of Object.keys(session.authorizations ?? {})) {
      const sid = session.sidFor(clientId);
      if (typeof sid !== 'string') continue;
      if (sid !== record.sid) {
        const ended = await sessions.end(record.sub, sid, 'revoked');
        if (ended !== null) others.push(ended);
      }
      // oidc-provider's types leave out the Back-Channel Logout members its Client has with the feature on.
      const client = (await provider.Client.find(clientId)) as BackchannelClient | undefined;
      if (client?.backchannelLogoutUri === undefined) continue;
      try {
        await client.backchannelLogout(record.sub, sid);
        logger.info({ client: clientId }, 'back-channel logout sent');
      } catch (err) {
        // The session still ends: the client's own tokens expire, and it asked to be told, not to decide.
        logger.warn({ err, client: clientId }, 'back-channel logout failed');
      }
    }
    await session.destroy();
    if (others.length > 0) deps.onEnded(others);
  };

  return {
    async end(records) {
      for (const record of records) {
        try {
          await endOne(record);
        } catch (err) {
          logger.error({ err }, 'could not end an OpenID Connect provider session');
        }
      }
    },
  };
}
