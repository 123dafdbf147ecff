import { createMemoryEngine } from '../../libs/engine/index.js';
import { engineContract } from '../support/engine-contract.js';

// One process: engine A and engine B are the same instance.
engineContract('memory', async ([observer]) => {
  const engine = createMemoryEngine({ observer });
  return { engines: [engine, engine], cleanup: () => engine.close() };
});
