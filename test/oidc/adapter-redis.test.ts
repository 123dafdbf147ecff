import { redisEngines } from '../support/engine-contract.js';
import { oidcAdapterContract } from '../support/oidc-adapter-contract.js';
import { startRedisServer } from '../support/redis-server.js';

// Two gateways on their own connections to one private redis-server.
oidcAdapterContract(
  'redis',
  redisEngines(async () => {
    const server = await startRedisServer();
    return { clients: { url: server.url }, stop: () => server.stop() };
  }),
);
