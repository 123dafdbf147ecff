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
 * Resends the same request when no answer arrives (timeout or connection failure) or the answer is a server
 * error (5xx), as WeChat is reported to do; a 4xx is final. After the last attempt the user would see
 * "cannot provide service".
 */
export async function deliverPush(options: DeliveryOptions): Promise<DeliveryResult> {
  const separator = options.webhookUrl.includes('?') ? '&' : '?';
  const url = `${options.webhookUrl}${separator}${options.push.query}`;
  let error = '';
  let attempts = 0;
  while (attempts < options.maxAttempts && !options.signal.aborted) {
    attempts += 1;
    options.onAttempt?.();
    // A plain controller and timer, not AbortSignal.any([AbortSignal.timeout(…), …]): in Node 20 the timeout
    // signal inside `any` can be garbage-collected and then never fires (nodejs/node#57736).
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort();
    }, options.timeoutMs);
    const onClose = (): void => attempt.abort();
    options.signal.addEventListener('abort', onClose, { once: true });
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/xml' },
        body: options.push.body,
        signal: attempt.signal,
      });
      const body = await response.text();
      if (response.status < 500 || attempts >= options.maxAttempts) return { delivered: true, attempts, status: response.status, body };
      error = `answered ${response.status}`;
    } catch (err) {
      error = timedOut ? `no answer within ${options.timeoutMs} ms` : describe(err);
    } finally {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onClose);
    }
  }
  return { delivered: false, attempts, status: 0, body: '', error };
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}
