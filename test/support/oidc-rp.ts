/**
 * Helpers of the OpenID Connect tests: a relying party's callback endpoint (a real HTTP server that records
 * what the browser brought back), an RSA key, and a browser that signs in through qrgate's QR page.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { shownTicket } from '../browser/chromium.js';
import { scan } from './phone.js';

/** A fresh PKCS#8 PEM RSA key (ID tokens are RS256). */
export const rsaKeyPem = (): string =>
  generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A relying party's redirect target: answers 200 and remembers every URL it was sent to. */
export interface RpCallback {
  readonly base: string;
  /** The URLs that reached it, newest last. */
  readonly hits: URL[];
  /** Resolves with the next URL under `path` (or one already received and not yet taken). */
  next(path: string, timeoutMs?: number): Promise<URL>;
  close(): Promise<void>;
}

export async function startRpCallback(): Promise<RpCallback> {
  const hits: URL[] = [];
  const taken = new Set<URL>();
  const server: Server = createServer((req, res) => {
    hits.push(new URL(req.url ?? '/', base));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('relying party');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    hits,
    async next(path, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = hits.find((h) => h.pathname === path && !taken.has(h));
        if (hit !== undefined) {
          taken.add(hit);
          return hit;
        }
        if (Date.now() > deadline) throw new Error(`no request reached ${path}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * In `page` (already at the provider's login step), read the QR code's ticket and have the phone scan it as
 * `openid` through the simulator at `simUrl` (`tap`: also confirm on the phone). Returns the ticket id.
 */
export async function scanLoginStep(page: Page, simUrl: string, openid: string, tap = false): Promise<string> {
  const { ticket } = await shownTicket(page);
  const result = await scan(simUrl, { scene: ticket, openid, ...(tap ? { tap: 'confirm' as const } : {}) });
  if (!result.delivered) throw new Error(`scan not delivered: ${result.status}`);
  return ticket;
}
