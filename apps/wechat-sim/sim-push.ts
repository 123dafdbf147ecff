/**
 * Delivering a push the way WeChat does (WECHAT.md §6): POST the signed XML; with no answer within the
 * deadline, drop the connection and send the very same request again, up to a total number of deliveries.
 */
import type { SignedPush } from '../../libs/wechat/index.js';

export interface DeliveryOptions {
  webhookUrl: string;
  push: SignedPush;
  /** Per-delivery deadline, ms (WeChat: 5000). */
  timeoutMs: number;
  /** Deliveries in total, the first one included. */
  maxAttempts: number;
  /** Aborts the whole delivery (the simulator is closing). */
  signal: AbortSignal;
  /** Called before each HTTP request. */
  onAttempt?: () => void;
}

export interface DeliveryResult {
  /** An HTTP answer arrived within the deadline. */
  delivered: boolean;
  attempts: number;
  /** HTTP status of the answer; 0 when none arrived. */
  status: number;
  /** Body of the answer; '' when none arrived. */
  body: string;
  /** Why the last delivery failed, when it did. */
  error?: string;
}

/**
 * Retries only when no answer arrives (timeout or connection failure). An HTTP error status is an answer:
 * WeChat shows the user "cannot provide service" and does not resend.
 */
export async function deliverPush(options: DeliveryOptions): Promise<DeliveryResult> {
  const separator = options.webhookUrl.includes('?') ? '&' : '?';
  const url = `${options.webhookUrl}${separator}${options.push.query}`;
  let error = '';
  let attempts = 0;
  while (attempts < options.maxAttempts && !options.signal.aborted) {
    attempts += 1;
    options.onAttempt?.();
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: options.push.body,
        signal: AbortSignal.any([AbortSignal.timeout(options.timeoutMs), options.signal]),
      });
      const body = await response.text();
      return { delivered: true, attempts, status: response.status, body };
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      error = timedOut ? `no answer within ${options.timeoutMs} ms` : describe(err);
    }
  }
  return { delivered: false, attempts, status: 0, body: '', error };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}
