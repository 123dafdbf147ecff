import { createRedisClients, createRedisEngine, type Engine, type RedisClients } from '../../libs/engine/index.js';
import { engineContract } from '../support/engine-contract.js';
import { startRedisCluster } from '../support/redis-server.js';

// Two processes on one private six-node cluster; the subscribers use ioredis' sharded subscribers.
engineContract('redis cluster', async (observers) => {
  const cluster = await startRedisCluster();
  const clients: RedisClients[] = [];
  const engines: Engine[] = [];
  try {
    for (const observer of observers) {
      const pair = createRedisClients({ clusterNodes: cluster.nodes });
      clients.push(pair);
      engines.push(createRedisEngine({ client: pair.client, subscriber: pair.subscriber, observer }));
    }
  } catch (error) {
    await Promise.all(clients.map((pair) => pair.quit()));
    await cluster.stop();
    throw error;
  }
  return {
    engines: [engines[0]!, engines[1]!],
    async cleanup() {
      try {
        await Promise.all(engines.map((engine) => engine.close()));
        await Promise.all(clients.map((pair) => pair.quit()));
      } finally {
        await cluster.stop();
      }
    },
  };
});
