/**
 * The one way an app makes its HTTP server: every request must arrive whole (headers and body) within a
 * request timeout of seconds, so a client trickling its request one byte at a time cannot pin a connection
 * for Node's default 300 s. Node enforces it itself (`requestTimeout`, answering 408 and closing), checked
 * often enough that the bound holds. Socket.IO is not affected: a long-polling GET arrives at once (it is the
 * answer that waits), its POSTs are small, and an upgraded WebSocket is no longer an HTTP request.
 */
import { createServer, type RequestListener, type Server } from 'node:http';

/** Default of `HTTP_REQUEST_TIMEOUT_SECONDS`. */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 15;

export function createHttpServer(handler: RequestListener | undefined, options: { requestTimeoutSeconds: number }): Server {
  const requestTimeout = options.requestTimeoutSeconds * 1000;
  return createServer(
    {
      requestTimeout,
      // Headers are part of the request: never longer than the whole of it.
      headersTimeout: requestTimeout,
      // Node looks for overdue requests on this interval (30 s by default, longer than the timeout itself).
      connectionsCheckingInterval: Math.min(1000, requestTimeout / 2),
    },
    handler,
  );
}
