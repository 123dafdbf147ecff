/**
 * Plain HTTP for tests: serve a Node request handler (a Koa app's `callback()`, a stand-in webhook) on a free
 * port of 127.0.0.1, and read an answer as text. Every server `serve` starts is stopped by its `close`.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Listen on a free port of 127.0.0.1. `server` is there to attach more (e.g. Socket.IO) to the listener. */
export async function serve(handler: RequestListener): Promise<Served & { server: Server }> {
  const server = createServer(handler);
  // Tests open hundreds of connections at once; Node's default backlog (511) resets some on a loaded machine.
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets and requests a handler abandoned must not hold the server open.
        server.closeAllConnections();
      }),
  };
}

/** An HTTP answer read as text. */
export interface HttpText {
  status: number;
  body: string;
  headers: Headers;
}

export async function fetchText(url: string, init?: RequestInit): Promise<HttpText> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}
