/**
 * What one bench run measured, as written to `bench/results/<date>.json`: every scenario's raw result for
 * qrgate and for its floor, plus where and how it ran.
 */
import type { DeliveriesResult } from '../scenarios/deliveries.js';
import type { NewLoginsResult } from '../scenarios/new-logins.js';
import type { WaitingResult } from '../scenarios/waiting-browsers.js';
import type { WebhookResult } from '../scenarios/webhook-throughput.js';

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: { node: string; cpus: number; cpuModel: string; loadAverageAtStart: number[] };
  /** `stack`: the stack floor (absent in runs from before it existed). */
  newLogins: { qrgate: NewLoginsResult; qrgateSlowApi: NewLoginsResult; floor: NewLoginsResult; stack?: NewLoginsResult };
  waiting: { qrgate: WaitingResult; floor: WaitingResult };
  webhook: WebhookResult;
  deliveries: { qrgate: DeliveriesResult[]; floor: DeliveriesResult[] };
}
