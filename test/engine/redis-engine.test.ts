import { engineContract, redisEngines } from '../support/engine-contract.js';
import { startRedisServer } from '../support/redis-server.js';

// Two processes: two engines on their own connection pairs, sharing one private redis-server.
engineContract(
  'redis',
  redisEngines(async () => {
    const server = await startRedisServer();
    return { clients: { url: server.url }, stop: () => server.stop() };
  }),
);

// The webhook's configuration: the command connection auto-pipelined (commands of one tick share a write).
engineContract(
  'redis, auto-pipelined',
  redisEngines(async () => {
    const server = await startRedisServer();
    return { clients: { url: server.url, autoPipelining: true }, stop: () => server.stop() };
  }),
);
