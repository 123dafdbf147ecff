/**
 * `POST /api/session`: a single-use login code plus the browser's secret become a fresh session credential.
 * Validates the body, calls `login.redeem()` and signs; the refusal reasons become one 401 each.
 */
import type { LoginService } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { sessionRequestSchema, type ErrorDetail, type SessionResponse } from '../../libs/protocol/index.js';
import { ticketLogId, type TransitionRefusal } from '../../libs/ticket/index.js';
import { GatewayError } from './gateway-error.js';
import type { SessionSigner } from './session-signer.js';
import type { UnionidLookup } from './unionid-lookup.js';

/** What the browser is told for each refusal; anything not listed reads as "unknown or expired code". */
const REFUSALS: Partial<Record<TransitionRefusal | 'not_found' | 'malformed', ErrorDetail<'INVALID_CODE'>>> = {
  already_consumed: 'used',
  secret_mismatch: 'wrong_browser',
  code_expired: 'expired',
};

export interface SessionExchange {
  /** Redeem `body`; throws GatewayError (401) on any refusal, leaving the ticket as it was. */
  redeem(body: unknown): Promise<SessionResponse>;
}

export function createSessionExchange(deps: {
  login: LoginService;
  signer: SessionSigner;
  logger: Logger;
  /** The user's unionid, looked up once per login (`unionid-lookup.ts`). Unset: tokens carry no unionid. */
  unionid?: UnionidLookup;
}): SessionExchange {
  return {
    async redeem(body) {
      const parsed = sessionRequestSchema.safeParse(body);
      if (!parsed.success) throw GatewayError.of('INVALID_PAYLOAD', { detail: 'session' });
      const redeemed = await deps.login.redeem(parsed.data);
      if (!redeemed.ok) {
        const detail = REFUSALS[redeemed.reason];
        throw GatewayError.of('INVALID_CODE', detail !== undefined ? { detail } : {});
      }
      deps.logger.info({ ticket: ticketLogId(redeemed.ticket.id) }, 'session issued');
      const unionid = await deps.unionid?.(redeemed.openid);
      const token = await deps.signer.sign(redeemed.openid, unionid !== undefined ? { unionid } : {});
      return { openid: redeemed.openid, token };
    },
  };
}
