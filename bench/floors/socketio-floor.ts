/**
 * The floor for the browser-facing figures: a bare Socket.IO 4.8 server on the same Node, doing the least a
 * login gateway can do. Each connection on `/login` joins its own room and at once gets `ticket { ticket }`
 * (new connects/s, connect → first event; resident memory per socket). With `REDIS_URL` it runs on
 * `@socket.io/redis-adapter` in sharded mode with one channel per room, so a headless publisher
 * (`socketio-publisher.ts`) can deliver `login` to a room from another process (the delivery floor).
 *
 * With `WECHAT_API_BASE` (the simulator's), it is the stack floor for new logins: before its `ticket`, each
 * connection makes the I/O a login gateway cannot do without, one `qrcode/create` call (keep-alive HTTP) and,
 * with Redis, one SET of the code's URL; the event then carries `qrUrl` too. Nothing else of qrgate's.
 *
 * `GET /stats` answers `{ sockets, busMessages }`: bus messages are the sharded pub/sub messages this
 * server's subscriber received. Environment: PORT (required), REDIS_URL, WECHAT_API_BASE with WECHAT_APPID and
 * WECHAT_SECRET (optional).
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT must be a port number');
const redisUrl = process.env.REDIS_URL;

let busMessages = 0;
const http = createServer((req, res) => {
  if (req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ sockets: io.of('/login').sockets.size, busMessages }));
    return;
  }
  res.statusCode = 404;
  res.end();
});
const io = new Server(http, { serveClient: false });
const clients: Redis[] = [];
if (redisUrl !== undefined && redisUrl !== '') {
  const pub = new Redis(redisUrl);
  const sub = new Redis(redisUrl);
  for (const client of [pub, sub]) {
    client.on('error', (error: Error) => process.stderr.write(`floor redis: ${error.message}\n`));
    clients.push(client);
  }
  sub.on('smessageBuffer', () => {
    busMessages += 1;
  });
  io.adapter(createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' }));
}

const apiBase = process.env.WECHAT_API_BASE;
const agent = new Agent({ keepAlive: true });

/** POST `body` as JSON to the API and parse the JSON answer. */
function postJson(path: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${apiBase}${path}`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

let accessToken: Promise<string> | undefined;
if (apiBase !== undefined && apiBase !== '') {
  accessToken = postJson('/cgi-bin/stable_token', {
    grant_type: 'client_credential',
    appid: process.env.WECHAT_APPID,
    secret: process.env.WECHAT_SECRET,
  }).then((answer) => String(answer.access_token));
}

io.of('/login').on('connection', (socket) => {
  const ticket = randomBytes(16).toString('base64url');
  void socket.join(ticket);
  if (accessToken === undefined) {
    socket.emit('ticket', { ticket });
    return;
  }
  void (async () => {
    const code = await postJson(`/cgi-bin/qrcode/create?access_token=${await accessToken}`, {
      expire_seconds: 120,
      action_name: 'QR_STR_SCENE',
      action_info: { scene: { scene_str: ticket } },
    });
    const qrUrl = String(code.url);
    await clients[0]?.set(`floor:${ticket}`, qrUrl, 'PX', 120_000);
    socket.emit('ticket', { ticket, qrUrl });
  })().catch((error: unknown) => {
    process.stderr.write(`floor: ${String(error)}\n`);
    socket.disconnect(true);
  });
});

http.listen(port, '127.0.0.1');

const stop = (): void => {
  void io.close(() => {
    for (const client of clients) client.disconnect();
    process.exit(0);
  });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
