/**
 * Prometheus metrics on their own port (METRICS_PORT), never on the app's public one: whatever spelling a
 * client tries (`/metrics/`, `/METRICS`, `/%6Detrics`) the public port has no metrics route, and no shipped
 * proxy routes the metrics port. Exactly `GET /metrics` answers here; anything else is a 404.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { createHttpServer, DEFAULT_REQUEST_TIMEOUT_SECONDS } from './http-server.js';
import { listen, localUrl } from './listen.js';

export interface MetricsServer {
  readonly server: Server;
  /** The bound port (METRICS_PORT, or the one the OS chose for 0). */
  readonly port: number;
  /** `http://host:port` as a process on this machine reaches it (without `/metrics`). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Listen on `host:port` and serve `registry` at exactly `GET /metrics`, with the same request timeout as the
 * public port (HTTP_REQUEST_TIMEOUT_SECONDS; default {@link DEFAULT_REQUEST_TIMEOUT_SECONDS}).
 */
export async function serveMetrics(
  registry: Registry,
  host: string,
  port: number,
  requestTimeoutSeconds: number = DEFAULT_REQUEST_TIMEOUT_SECONDS,
): Promise<MetricsServer> {
  const server = createHttpServer(
    (req, res) => {
      if (req.method !== 'GET' || req.url !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' }).end('not found');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType, 'x-content-type-options': 'nosniff' }).end(text),
        () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable'),
      );
    },
    { requestTimeoutSeconds },
  );
  const bound = await listen(server, host, port);
  return {
    server,
    port: bound,
    url: localUrl(host, bound),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
