/**
 * `POST /api/session`: a single-use login code plus the browser's secret become a session credential.
 * Validates the body, calls `login.redeem()` and signs; the refusal reasons become one 401 each. The session's
 * id and issue time come from the consumption itself, so a replay of the same exchange (its answer was lost
 * to a dying gateway; libs/ticket/redeem-replay.ts) is signed as the same session, never a second one.
 */
import { sessionOfTicket, type LoginService, type SessionBook, type SessionRecord } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { sessionRequestSchema, type ErrorDetail, type SessionResponse } from '../../libs/protocol/index.js';
import { ticketLogId, type TransitionRefusal } from '../../libs/ticket/index.js';
import { GatewayError, orStoreUnavailable } from './gateway-error.js';
import type { SessionSigner } from './session-signer.js';
import type { UnionidLookup } from './unionid-lookup.js';

/** What the browser is told for each refusal; anything not listed reads as "unknown or expired code". */
const REFUSALS: Partial<Record<TransitionRefusal | 'not_found' | 'malformed', ErrorDetail<'INVALID_CODE'>>> = {
  already_consumed: 'used',
  secret_mismatch: 'wrong_browser',
  code_expired: 'expired',
};

/** Where the exchange comes from (`requestSite`) and whom its token is for. */
export interface ExchangeSite {
  /** The redeeming site's origin when it is another site; absent: the gateway's own page. */
  site?: string;
  /** The token's `aud`: `site`, or the gateway's public origin. */
  audience: string;
}

export interface SessionExchange {
  /**
   * Redeem `body` from `from`; throws GatewayError (401, or 403 ORIGIN_NOT_ALLOWED when the ticket was begun on
   * another site) on any refusal, leaving the ticket as it was; 503 STORE_UNAVAILABLE when the store fails.
   */
  redeem(body: unknown, from: ExchangeSite): Promise<SessionResponse>;
}

export function createSessionExchange(deps: {
  login: LoginService;
  signer: SessionSigner;
  /** Where each session is recorded before its token is signed (so no token exists without a record). */
  sessions: SessionBook;
  /** Told of each session this exchange recorded (a replay tells again; the listener announces it). */
  onSessionBegun?(record: SessionRecord, replayed: boolean): void;
  logger: Logger;
  /** The user's unionid, looked up once per login (`unionid-lookup.ts`). Unset: tokens carry no unionid. */
  unionid?: UnionidLookup;
}): SessionExchange {
  return {
    async redeem(body, from) {
      const parsed = sessionRequestSchema.safeParse(body);
      if (!parsed.success) throw GatewayError.of('INVALID_PAYLOAD', { detail: 'session' });
      const input = { ...parsed.data, ...(from.site !== undefined ? { site: from.site } : {}) };
      const redeemed = await orStoreUnavailable(() => deps.login.redeem(input), 'session');
      if (!redeemed.ok && redeemed.reason === 'site_mismatch') throw GatewayError.of('ORIGIN_NOT_ALLOWED');
      if (!redeemed.ok) {
        const detail = REFUSALS[redeemed.reason];
        throw GatewayError.of('INVALID_CODE', detail !== undefined ? { detail } : {});
      }
      deps.logger.info({ ticket: ticketLogId(redeemed.ticket.id), replayed: redeemed.replayed }, 'session issued');
      const session = sessionOfTicket(redeemed.ticket, { sub: redeemed.openid, ttlSeconds: deps.signer.ttlSeconds });
      const record = await orStoreUnavailable(() => deps.sessions.begin(session), 'session');
      deps.onSessionBegun?.(record, redeemed.replayed);
      const unionid = await deps.unionid?.(redeemed.openid);
      const token = await deps.signer.sign(redeemed.openid, from.audience, unionid !== undefined ? { unionid } : {}, {
        id: session.sid,
        issuedAt: session.issuedAt,
      });
      return { openid: redeemed.openid, token };
    },
  };
}
