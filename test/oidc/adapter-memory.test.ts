import { createMemoryEngine } from '../../libs/engine/index.js';
import { oidcAdapterContract } from '../support/oidc-adapter-contract.js';

// One process: both "gateways" are the same memory engine, as in `npm start`.
oidcAdapterContract('memory', async () => {
  const engine = createMemoryEngine();
  return { engines: [engine, engine], cleanup: () => engine.close() };
});
