/**
 * The floor for the browser-facing figures: a bare Socket.IO 4.8 server on the same Node, doing the least a
 * login gateway can do. Each connection on `/login` joins its own room and at once gets `ticket { ticket }`
 * (new connects/s, connect → first event; resident memory per socket). With `REDIS_URL` it runs on
 * `@socket.io/redis-adapter` in sharded mode with one channel per room, so a headless publisher
 * (`socketio-publisher.ts`) can deliver `login` to a room from another process (the delivery floor).
 *
 * `GET /stats` answers `{ sockets, busMessages }`: bus messages are the sharded pub/sub messages this
 * server's subscriber received. Environment: PORT (required), REDIS_URL (optional).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
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

io.of('/login').on('connection', (socket) => {
  const ticket = randomBytes(16).toString('base64url');
  void socket.join(ticket);
  socket.emit('ticket', { ticket });
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
