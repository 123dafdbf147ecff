/**
 * When an expired QR code may be replaced without asking the user. Every new QR code is a WeChat API call
 * against the account's daily quota, so a tab nobody looks at must not keep asking for them.
 */

/** Default number of automatic refreshes in a row before the user has to click. */
export const DEFAULT_MAX_AUTO_REFRESHES = 5;

/** What to do about an expired QR code. */
export type AutoRefreshDecision =
  /** Ask for a new QR code now (the budget was charged). */
  | 'refresh'
  /** The tab is hidden: wait until it is visible again. */
  | 'wait-until-visible'
  /** The budget is spent: only a user action may refresh. */
  | 'ask-user';

/** The rule, pure: `spent` automatic refreshes in a row so far, `max` allowed, and whether the tab is seen. */
export function autoRefreshDecision(spent: number, max: number, visible: boolean): AutoRefreshDecision {
  if (spent >= max) return 'ask-user';
  if (!visible) return 'wait-until-visible';
  return 'refresh';
}

/** A budget of automatic refreshes that only a user action (or a scan) replenishes. */
export class AutoRefreshBudget {
  private used = 0;

  /** @param max refreshes allowed in a row (default {@link DEFAULT_MAX_AUTO_REFRESHES}). */
  constructor(readonly max = DEFAULT_MAX_AUTO_REFRESHES) {}

  /** Automatic refreshes since the last reset. */
  get spent(): number {
    return this.used;
  }

  /** Decide about an expired code; charges the budget when the answer is `refresh`. */
  decide(visible: boolean): AutoRefreshDecision {
    const decision = autoRefreshDecision(this.used, this.max, visible);
    if (decision === 'refresh') this.used += 1;
    return decision;
  }

  /** Someone is there (a click, a scan): the next expiries may refresh by themselves again. */
  reset(): void {
    this.used = 0;
  }
}
