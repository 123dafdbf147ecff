/**
 * Listening on a port as a promise, and the URL a process on this machine reaches it at.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Connections the kernel holds for us while the event loop is busy (capped by `net.core.somaxconn`, 4096 on
 * current Linux). Node's default, 511, overflows when a gateway's thousand browsers come back at once after
 * another gateway died: the kernel then drops their SYNs, and the load balancer's health check, timing out on
 * connect like everyone else, marks the busy gateway down too, turning a slow second into an outage.
 */
export const LISTEN_BACKLOG = 4096;

/** Listen on `host:port` (0: any free port); resolves with the bound port. */
export async function listen(server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** `http://host:port`, with a wildcard host (0.0.0.0, ::) replaced by the loopback address. */
export function localUrl(host: string, port: number): string {
  return `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
}
