/**
 * The WeChat account's daily QR quota as one budget every gateway draws from through the engine. Per-address
 * limits alone cannot protect it: two IPv4 addresses at the ticket limit would drain 100,000 codes a day,
 * and then nobody logs in until WeChat's counter resets. So the fleet spends the quota evenly over the day
 * (a token bucket), allows a burst of 1% for a rush, and keeps 5% that it never spends: a bucket can hand
 * out its burst plus a day's refill within one of WeChat's calendar days, and the reserve covers that and
 * whatever else uses the account.
 */
import type { BudgetOptions, Engine } from '../../libs/engine/index.js';
import type { Metrics } from '../../libs/observability/index.js';

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

export interface QrBudget {
  /** Spend one QR code; false when the fleet's budget is short right now (nothing was spent). */
  take(): Promise<boolean>;
}

export function createQrBudget(deps: { engine: Engine; dailyQuota: number; metrics: Metrics }): QrBudget {
  const { reserve: _reserve, ...options } = qrBudgetOptions(deps.dailyQuota);
  deps.metrics.wechatQrBudgetCapacity.set(options.capacity);
  deps.metrics.readQrBudgetFrom(() => deps.engine.budgets.peek(BUDGET_KEY, options));
  return {
    async take() {
      const verdict = await deps.engine.budgets.take(BUDGET_KEY, options);
      deps.metrics.wechatQrBudgetRemaining.set(verdict.remaining);
      return verdict.ok;
    },
  };
}
