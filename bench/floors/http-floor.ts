/**
 * The webhook's floor: a bare `node:http` server that reads the whole request body and answers `success`,
 * the least a WeChat push endpoint can do. The bench sends it the very requests it sends the webhook.
 * `GET /stats` answers `{ requests, bytes }`. Environment: PORT (required).
 */
import { createServer } from 'node:http';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be a port number');

let requests = 0;
let bytes = 0;
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ requests, bytes }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    requests += 1;
    bytes += Buffer.concat(chunks).length;
    res.setHeader('content-type', 'text/plain');
    res.end('success');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1');

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
