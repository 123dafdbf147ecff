/**
 * `POST /api/session`: a single-use login code plus the browser's secret become a fresh session credential.
 */
import type { Engine } from '../../libs/engine/index.js';
import type { Logger, Metrics } from '../../libs/observability/index.js';
import { sessionRequestSchema, type SessionResponse } from '../../libs/protocol/index.js';
import { ticketIdOfCode, ticketLogId, transition } from '../../libs/ticket/index.js';
import { GatewayError } from './gateway-settings.js';
import type { SessionSigner } from './session-signer.js';

const REFUSALS: Record<string, string> = {
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
      if (!parsed.success) throw new GatewayError('INVALID_PAYLOAD', 'expected JSON { code, secret }', 400);
      const { code, secret } = parsed.data;
      const ticketId = ticketIdOfCode(code);
      if (ticketId === null) throw new GatewayError('INVALID_CODE', REFUSALS.not_found!, 401);
      const at = now();
      const result = await deps.engine.tickets.apply(ticketId, (t) => transition(t, { type: 'consume', code, secret, at }));
      if (!result.ok || !result.changed || result.ticket.openid === undefined) {
        const reason = result.ok ? 'already_consumed' : result.reason;
        deps.logger.info({ ticket: ticketLogId(ticketId), reason }, 'code refused');
        throw new GatewayError('INVALID_CODE', REFUSALS[reason] ?? 'unknown or expired code', 401);
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
