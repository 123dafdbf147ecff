/**
 * The WeChat account's daily QR quota as one budget every gateway draws from through the engine. Per-address
 * limits alone cannot protect it: two IPv4 addresses at the ticket limit would drain 100,000 codes a day,
 * and then nobody logs in until WeChat's counter resets. So the fleet spends the quota evenly over the day
 * (a token bucket), allows a burst of 1% for a rush, and keeps 5% that it never spends: a bucket can hand
 * out its burst plus a day's refill within one of WeChat's calendar days, and the reserve covers that and
 * whatever else uses the account.
 *
 * A new ticket is also limited per client (its address, or its IPv6 /64: `client-group.ts`), and both are
 * checked in one step of the engine (one Redis round trip): the client's attempt is counted first, and one
 * over its limit spends nothing from the fleet's budget.
 */
import type { BudgetOptions, Engine } from '../../libs/engine/index.js';
import type { Metrics } from '../../libs/observability/index.js';
import { clientGroup } from './client-group.js';

const DAY_SECONDS = 86_400;
/** The engine key of the fleet's bucket. */
const BUDGET_KEY = 'wechat-qr';

/** The bucket for a daily quota: burst 1% (at least 1), reserve 5%, the rest refilled evenly over a day. */
export function qrBudgetOptions(dailyQuota: number): BudgetOptions & { reserve: number } {
  const reserve = Math.floor(dailyQuota * 0.05);
  const capacity = Math.max(1, Math.floor(dailyQuota / 100));
  // Burst + one day's refill + reserve = the quota, so no calendar day can spend more than quota - reserve.
  return { capacity, reserve, refillPerSecond: (dailyQuota - reserve - capacity) / DAY_SECONDS };
}

/** Why a QR code was not spent: the client asked too often (`tickets`), or the fleet's budget is short. */
export type QrRefusal = 'tickets' | 'qr_quota';

export interface QrBudget {
  /** Spend one QR code for a ticket the client at `ip` asks for; null when spent, else why not (nothing spent). */
  take(ip: string): Promise<QrRefusal | null>;
}

export function createQrBudget(deps: { engine: Engine; dailyQuota: number; ticketsPerMinute: number; metrics: Metrics }): QrBudget {
  const { reserve: _reserve, ...options } = qrBudgetOptions(deps.dailyQuota);
  deps.metrics.wechatQrBudgetCapacity.set(options.capacity);
  deps.metrics.readQrBudgetFrom(() => deps.engine.budgets.peek(BUDGET_KEY, options));
  return {
    async take(ip) {
      const attempt = { key: clientGroup(ip), points: deps.ticketsPerMinute, windowMs: 60_000 };
      const verdict = await deps.engine.budgets.take(BUDGET_KEY, options, attempt);
      deps.metrics.wechatQrBudgetRemaining.set(verdict.remaining);
      if (verdict.limited === true) return 'tickets';
      return verdict.ok ? null : 'qr_quota';
    },
  };
}
