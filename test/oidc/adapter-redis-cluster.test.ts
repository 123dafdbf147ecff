import { redisEngines } from '../support/engine-contract.js';
import { oidcAdapterContract } from '../support/oidc-adapter-contract.js';
import { startRedisCluster } from '../support/redis-server.js';

// Two gateways on a private six-node cluster: records of one grant land in many slots.
oidcAdapterContract(
  'redis cluster',
  redisEngines(async () => {
    const cluster = await startRedisCluster();
    return { clients: { clusterNodes: cluster.nodes }, stop: () => cluster.stop() };
  }),
);
