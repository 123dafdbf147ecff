/**
 * `POST /api/session`: a single-use login code plus the browser's secret become a fresh session credential.
 * Validates the body, calls `login.redeem()` and signs; the refusal reasons become one 401 each.
 */
import type { LoginService } from '../../libs/login/index.js';
import type { Logger } from '../../libs/observability/index.js';
import { sessionRequestSchema, type SessionResponse } from '../../libs/protocol/index.js';
import { ticketLogId } from '../../libs/ticket/index.js';
import { GatewayError } from './gateway-settings.js';
import type { SessionSigner } from './session-signer.js';

const REFUSALS: Record<string, string> = {
  malformed: 'unknown or expired code',
  not_found: 'unknown or expired code',
  already_consumed: 'code already used',
  code_mismatch: 'unknown or expired code',
  not_confirmed: 'unknown or expired code',
  secret_mismatch: 'code does not belong to this browser',
  code_expired: 'code expired',
};

export interface SessionExchange {
  /** Redeem `body`; throws GatewayError (401) on any refusal, leaving the ticket as it was. */
  redeem(body: unknown): Promise<SessionResponse>;
}

export function createSessionExchange(deps: { login: LoginService; signer: SessionSigner; logger: Logger }): SessionExchange {
  return {
    async redeem(body) {
      const parsed = sessionRequestSchema.safeParse(body);
      if (!parsed.success) throw new GatewayError('INVALID_PAYLOAD', 'expected JSON { code, secret }', 400);
      const redeemed = await deps.login.redeem(parsed.data);
      if (!redeemed.ok) throw new GatewayError('INVALID_CODE', REFUSALS[redeemed.reason] ?? 'unknown or expired code', 401);
      deps.logger.info({ ticket: ticketLogId(redeemed.ticket.id) }, 'session issued');
      const token = await deps.signer.sign(redeemed.openid);
      return { openid: redeemed.openid, token };
    },
  };
}
