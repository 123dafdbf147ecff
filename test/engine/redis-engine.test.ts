import { createRedisClients, createRedisEngine, type Engine, type RedisClients } from '../../libs/engine/index.js';
import { engineContract } from '../support/engine-contract.js';
import { startRedisServer } from '../support/redis-server.js';

// Two processes: two engines on their own connection pairs, sharing one private redis-server.
engineContract('redis', async (observers) => {
  const server = await startRedisServer();
  const clients: RedisClients[] = [];
  const engines: Engine[] = [];
  try {
    for (const observer of observers) {
      const pair = createRedisClients({ url: server.url });
      clients.push(pair);
      engines.push(createRedisEngine({ client: pair.client, subscriber: pair.subscriber, observer }));
    }
  } catch (error) {
    await Promise.all(clients.map((pair) => pair.quit()));
    await server.stop();
    throw error;
  }
  return {
    engines: [engines[0]!, engines[1]!],
    async cleanup() {
      try {
        await Promise.all(engines.map((engine) => engine.close()));
        await Promise.all(clients.map((pair) => pair.quit()));
      } finally {
        await server.stop();
      }
    },
  };
});
