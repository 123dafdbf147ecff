/**
 * Issue 16 item 10: slow clients cannot pin connections. A body trickled one byte at a time used to hold
 * `/api/session`, `/wechat` and `/confirm` for Node's 300 s default. Every HTTP route now has a request
 * timeout of seconds (`HTTP_REQUEST_TIMEOUT_SECONDS`, 2 s here), and the webhook checks its query signature
 * and timestamp before it reads a byte of the body. Each test trickles over a real TCP socket, one byte
 * every second, and asserts only that the server closed it before a few times the timeout (and before the
 * body readers' own 10 s), never how fast the machine is.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { DEMO_WECHAT } from '../../apps/standalone/standalone.js';
import { pushSignature } from '../../libs/wechat/index.js';
import { DEMO_USERS } from '../../apps/wechat-sim/index.js';
import { LoginBrowser } from '../support/login-browser.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { openBrowser, snapshot, expectStillPending } from './security-harness.js';

const TIMEOUT_SECONDS = 2;
/** The socket must be closed by then: four request timeouts, well short of the body readers' 10 s. */
const CLOSED_BEFORE_MS = 4 * TIMEOUT_SECONDS * 1000;
const BYTE_EVERY_MS = 1_000;

let app: Standalone;
beforeAll(async () => {
  app = await startTestStandalone({ HTTP_REQUEST_TIMEOUT_SECONDS: String(TIMEOUT_SECONDS), LOGIN_CONFIRMATION: 'tap' });
});
afterAll(async () => {
  await app.close();
});

interface Trickled {
  /** Whether the server closed the connection before {@link CLOSED_BEFORE_MS}. */
  closedByServer: boolean;
  /** What the server wrote back, if anything. */
  response: string;
  /** Body bytes sent before the close. */
  bytesSent: number;
}

/**
 * Send `head` (request line and headers, announcing a 1,000-byte body), then one body byte every second
 * until the server closes the connection or {@link CLOSED_BEFORE_MS} passes (then the test closes it).
 */
function trickle(head: string, baseUrl = app.url): Promise<Trickled> {
  const { port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    let response = '';
    let bytesSent = 0;
    let interval: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => finish(false), CLOSED_BEFORE_MS);
    const finish = (closedByServer: boolean): void => {
      clearInterval(interval);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ closedByServer, response, bytesSent });
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      response += chunk;
    });
    socket.once('close', () => finish(true));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      // A reset while we write is the server closing on us, too.
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish(true);
      else reject(error);
    });
    socket.once('connect', () => {
      socket.write(head);
      interval = setInterval(() => {
        if (socket.writable) {
          socket.write('x');
          bytesSent += 1;
        }
      }, BYTE_EVERY_MS);
    });
  });
}

const headOf = (method: string, path: string, contentType: string): string =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nContent-Length: 1000\r\n\r\n`;

function signedWechatQuery(): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = '8675309';
  return new URLSearchParams({ signature: pushSignature(DEMO_WECHAT.token, timestamp, nonce), timestamp, nonce }).toString();
}

describe('slow clients cannot pin connections (issue 16 item 10)', () => {
  it.each([
    ['POST /api/session', () => headOf('POST', '/api/session', 'application/json')],
    ['POST /wechat with a valid signature', () => headOf('POST', `/wechat?${signedWechatQuery()}`, 'text/xml')],
    ['POST /confirm', () => headOf('POST', '/confirm', 'application/x-www-form-urlencoded')],
    ["POST /sim/api/scan (the demo's simulator)", () => headOf('POST', '/sim/api/scan', 'application/json')],
  ])('%s trickled one byte a second is closed by the server within the request timeout', async (_what, head) => {
    const browser = await openBrowser(app);
    const before = await snapshot(app, browser);
    try {
      const result = await trickle(head());
      expect(result.closedByServer).toBe(true);
      // Node's own answer to a request that did not arrive in time.
      expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
      expect(result.bytesSent).toBeLessThan(1000);
      await expectStillPending(app, browser, before);
    } finally {
      browser.close();
    }
  });

  it.each([
    ['the public port', () => app.url],
    ['the metrics port', () => app.metricsUrl],
  ])('headers trickled one byte a second to %s are cut off with 408 too', async (_where, baseUrl) => {
    // No blank line after the headers: every trickled byte extends the last header's value.
    const result = await trickle('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', baseUrl());
    expect(result.closedByServer).toBe(true);
    expect(result.response).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('Socket.IO long-polling is not cut: a polling-only browser outlives the timeout and still gets its login', async () => {
    const browser = await LoginBrowser.open(app.url, { transports: ['polling'] });
    try {
      // Three request timeouts: each long-poll GET waits for its answer far longer than that, yet arrived at once.
      await new Promise((resolve) => setTimeout(resolve, 3 * TIMEOUT_SECONDS * 1000));
      await scan(app.url, { scene: browser.ticket.ticket, openid: DEMO_USERS[0]!.openid, tap: 'confirm' });
      expect((await browser.waitFor('login')).ticket).toBe(browser.ticket.ticket);
    } finally {
      browser.close();
    }
  });

  it('POST /wechat without a valid signature is refused before a byte of the body is read', async () => {
    const result = await trickle(headOf('POST', '/wechat?signature=0&timestamp=1&nonce=1', 'text/xml'));
    expect(result.closedByServer).toBe(true);
    expect(result.response).toMatch(/^HTTP\/1\.1 401 /);
    expect(result.response).toContain('\r\n\r\ninvalid signature');
    // Answered on the headers alone: no trickled byte was needed (the first goes out a second after them).
    expect(result.bytesSent).toBeLessThanOrEqual(1);
  });

  it('POST /wechat with a stale timestamp is refused before the body too', async () => {
    const timestamp = String(Math.floor(Date.now() / 1000) - 3_600);
    const query = new URLSearchParams({ signature: pushSignature(DEMO_WECHAT.token, timestamp, '1'), timestamp, nonce: '1' }).toString();
    const result = await trickle(headOf('POST', `/wechat?${query}`, 'text/xml'));
    expect(result.closedByServer).toBe(true);
    expect(result.response).toMatch(/^HTTP\/1\.1 401 /);
    expect(result.response).toContain('stale timestamp');
    expect(result.bytesSent).toBeLessThanOrEqual(1);
  });
});
