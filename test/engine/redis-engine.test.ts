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
