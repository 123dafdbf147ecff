/**
 * `POST /api/session`: a single-use login code plus the browser's secret become a fresh session credential.
 */
import type { Engine } from '../../libs/engine/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { sessionRequestSchema, type SessionResponse } from '../../libs/protocol/index.js';
import { ticketIdOfCode, ticketLogId, transition } from '../../libs/ticket/index.js';
import type { ErrorDetail } from '../../libs/protocol/index.js';
import type { TransitionRefusal } from '../../libs/ticket/index.js';
import { GatewayError } from './gateway-error.js';
import type { SessionSigner } from './session-signer.js';

/** What the browser is told for each refusal; anything not listed reads as "unknown or expired code". */
const REFUSALS: Partial<Record<TransitionRefusal | 'not_found', ErrorDetail<'INVALID_CODE'>>> = {
  already_consumed: 'used',
  secret_mismatch: 'wrong_browser',
  code_expired: 'expired',
};

export interface SessionExchange {
  /** Redeem `body`; throws GatewayError (401) on any refusal, leaving the ticket as it was. */
  redeem(body: unknown): Promise<SessionResponse>;
}

export function createSessionExchange(deps: {
  engine: Engine;
  signer: SessionSigner;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}): SessionExchange {
  const now = deps.now ?? Date.now;
  return {
    async redeem(body) {
      const parsed = sessionRequestSchema.safeParse(body);
      if (!parsed.success) throw GatewayError.of('INVALID_PAYLOAD', { detail: 'session' });
      const { code, secret } = parsed.data;
      const ticketId = ticketIdOfCode(code);
      if (ticketId === null) throw GatewayError.of('INVALID_CODE');
      const at = now();
      const result = await deps.engine.tickets.apply(ticketId, (t) => transition(t, { type: 'consume', code, secret, at }));
      if (!result.ok || !result.changed || result.ticket.openid === undefined) {
        const reason = result.ok ? 'already_consumed' : result.reason;
        deps.logger.info({ ticket: ticketLogId(ticketId), reason }, 'code refused');
        const detail = REFUSALS[reason];
        throw GatewayError.of('INVALID_CODE', detail !== undefined ? { detail } : {});
      }
      const ticket = result.ticket;
      deps.metrics.ticketsConsumed.inc();
      deps.metrics.scanToLogin.observe((at - (ticket.scannedAt ?? ticket.createdAt)) / 1000);
      deps.logger.info({ ticket: ticketLogId(ticketId) }, 'session issued');
      const token = await deps.signer.sign(ticket.openid!);
      return { openid: ticket.openid!, token };
    },
  };
}
