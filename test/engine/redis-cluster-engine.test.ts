import { engineContract, redisEngines } from '../support/engine-contract.js';
import { startRedisCluster } from '../support/redis-server.js';

// Two processes on one private six-node cluster; the subscribers use ioredis' sharded subscribers.
engineContract(
  'redis cluster',
  redisEngines(async () => {
    const cluster = await startRedisCluster();
    return { clients: { clusterNodes: cluster.nodes }, stop: () => cluster.stop() };
  }),
);
