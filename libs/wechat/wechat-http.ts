/**
 * How the WeChat client talks HTTP: `node:http`/`node:https` over keep-alive connections. The global
 * `fetch` (undici's WHATWG layer: Request, Headers, streams and their promises) cost about 6 % of a
 * gateway's CPU per new login, one `qrcode/create` each; a plain request on a reused connection is a
 * fraction of that. Only what the client needs: a method, headers, a small text body, a text answer.
 */
import http from 'node:http';
import https from 'node:https';

/** One request: the client always sets `signal` (its deadline). */
export interface HttpCall {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/** The answer: its status and its body as text (UTF-8). */
export interface HttpAnswer {
  status: number;
  text: string;
}

/** Sends one request and reads the whole answer; rejects on a network error or when `signal` aborts. */
export type HttpTransport = (url: string, call: HttpCall) => Promise<HttpAnswer>;

/**
 * Idle connections are closed after this long. Below the keep-alive timeout of common servers (nginx 75 s,
 * Node 5 s), as undici's 4 s is, so a request rarely meets a connection the server has just closed.
 */
const IDLE_MS = 4_000;

/** A transport with its own keep-alive agents. Idle connections never keep the process alive. */
export function createHttpTransport(): HttpTransport {
  const agents = {
    http: new http.Agent({ keepAlive: true, timeout: IDLE_MS }),
    https: new https.Agent({ keepAlive: true, timeout: IDLE_MS }),
  };

  const send = (url: URL, call: HttpCall): Promise<HttpAnswer> =>
    new Promise((resolve, reject) => {
      const secure = url.protocol === 'https:';
      const headers: Record<string, string | number> = { ...call.headers };
      if (call.body !== undefined) headers['content-length'] = Buffer.byteLength(call.body);
      const request = (secure ? https : http).request(
        url,
        { method: call.method, headers, agent: secure ? agents.https : agents.http, signal: call.signal },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            text += chunk;
          });
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
          response.on('error', reject);
          // A connection dropped mid-answer: settle rather than wait for an `end` that never comes.
          response.on('close', () => {
            if (!response.complete) reject(new Error('connection closed before the answer was complete'));
          });
        },
      );
      request.on('error', (err: Error) => reject(Object.assign(err, { reusedSocket: request.reusedSocket })));
      request.end(call.body);
    });

  return async (url, call) => {
    const target = new URL(url);
    try {
      return await send(target, call);
    } catch (err) {
      // A reset on a reused connection is almost always the server closing it while idle, before it read the
      // request: send it again once, on a new connection (what Node's docs advise for `request.reusedSocket`).
      const reused = (err as { reusedSocket?: boolean }).reusedSocket === true;
      if (!reused || (err as NodeJS.ErrnoException).code !== 'ECONNRESET' || call.signal.aborted) throw err;
      return send(target, call);
    }
  };
}

/** A transport over a `fetch` function (tests route requests with one). */
export function fetchTransport(doFetch: typeof fetch): HttpTransport {
  return async (url, call) => {
    const response = await doFetch(url, call);
    return { status: response.status, text: await response.text() };
  };
}
