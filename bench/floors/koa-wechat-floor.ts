/**
 * The webhook's stack floor: the frameworks the webhook is built on and nothing of ours. Koa with @koa/router
 * takes `POST /wechat`, reads the body, and hands it to the `wechat` package (as WECHAT.md §10.3 mounts it),
 * whose event handler answers `success`. No signature check, no Redis, no ticket: how fast the webhook could
 * be if everything qrgate adds were free. The bench sends it the very requests it sends the webhook.
 * `GET /stats` answers `{ requests, bytes }`. Environment: PORT (required).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import Router from '@koa/router';
import Koa from 'koa';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be a port number');

type PackageRequest = IncomingMessage & { query?: Record<string, unknown>; rawBody?: Buffer };
type Handler = (message: unknown, req: PackageRequest, res: ServerResponse, next: (error?: unknown) => void) => void;
interface Builder {
  event(handler: Handler): Builder;
  middlewarify(): (req: PackageRequest, res: ServerResponse, next: (error?: unknown) => void) => void;
}
const wechat = createRequire(import.meta.url)('wechat') as (config: { token: string; appid: string; checkSignature: boolean }) => Builder;

let requests = 0;
let bytes = 0;
const middleware = wechat({ token: 'floor', appid: 'floor', checkSignature: false })
  .event((_message, _req, res) => {
    requests += 1;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('success');
  })
  .middlewarify();

const app = new Koa();
const router = new Router();
router.get('/stats', (ctx) => {
  ctx.body = { requests, bytes };
});
router.post('/wechat', async (ctx) => {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  const req = ctx.req as PackageRequest;
  req.query = ctx.query;
  req.rawBody = Buffer.concat(chunks);
  bytes += req.rawBody.length;
  ctx.respond = false;
  await new Promise<void>((resolve) => {
    ctx.res.once('finish', resolve);
    // A message the package does not hand to the event handler (or cannot parse) comes back here.
    middleware(req, ctx.res, () => {
      ctx.respond = true;
      ctx.body = 'success';
      resolve();
    });
  });
});
app.use(router.routes());

const server = app.listen(port, '127.0.0.1');
server.keepAliveTimeout = 60_000;

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
