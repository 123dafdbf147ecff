/**
 * The gateway's one error type: a protocol error code, with its status and words taken from the catalogue
 * (`libs/protocol/errors.ts`). It is an HTTP error as the shared edge reads one (`status`, `expose`, `headers`),
 * a `connect_error` for a refused socket, and the body of a failed acknowledgement.
 */
import {
  errorMessage,
  errorStatus,
  type AckError,
  type ConnectErrorData,
  type ErrorCode,
  type ErrorDetail,
} from '../../libs/protocol/index.js';

export interface GatewayErrorOptions<C extends ErrorCode> {
  /** Which of the code's situations this is, when the catalogue distinguishes several. */
  detail?: ErrorDetail<C>;
  /** Sent as `Retry-After` over HTTP. */
  retryAfterSeconds?: number;
}

/** An error the browser can act on: `code` for the program, `message` for the person. */
export class GatewayError extends Error {
  override name = 'GatewayError';
  /** The catalogue's words are written for the browser: always shown. */
  readonly expose = true;
  readonly status: number;
  readonly statusCode: number;
  readonly headers: Record<string, string>;

  private constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.status = this.statusCode = errorStatus(code);
    this.headers = retryAfterSeconds !== undefined ? { 'Retry-After': String(retryAfterSeconds) } : {};
  }

  static of<C extends ErrorCode>(code: C, options: GatewayErrorOptions<C> = {}): GatewayError {
    return new GatewayError(code, errorMessage(code, options.detail), options.retryAfterSeconds);
  }

  /** As a Socket.IO `connect_error`: the browser reads `err.data.code`. */
  toConnectError(): Error & { data: ConnectErrorData } {
    return Object.assign(new Error(this.message), { data: { code: this.code } });
  }

  /** As the body of a failed acknowledgement. */
  toAck(): AckError {
    return { error: { code: this.code, message: this.message } };
  }
}

/** A failed acknowledgement for `code`. */
export function ackError<C extends ErrorCode>(code: C, detail?: ErrorDetail<C>): AckError {
  return GatewayError.of(code, detail !== undefined ? { detail } : {}).toAck();
}

/**
 * `call`, a store operation of a request the browser may safely send again (a code exchange is idempotent for
 * its own browser), with a store failure (e.g. Redis failing over) turned into `503 STORE_UNAVAILABLE`,
 * `Retry-After: 1`: a passing answer that `@qrgate/client` retries, not a final `500`. A refusal the call
 * returns, and a GatewayError it throws, pass unchanged; the store's error is kept as the `cause`, for the log.
 */
export async function orStoreUnavailable<T>(call: () => Promise<T>, detail?: ErrorDetail<'STORE_UNAVAILABLE'>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    const unavailable = GatewayError.of('STORE_UNAVAILABLE', { retryAfterSeconds: 1, ...(detail !== undefined ? { detail } : {}) });
    unavailable.cause = error;
    throw unavailable;
  }
}
