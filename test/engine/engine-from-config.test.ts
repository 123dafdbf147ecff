import { describe, expect, it } from 'vitest';
import { engineChoice, loadConfig } from '../../libs/config/index.js';
import { createEngine } from '../../libs/runtime/index.js';
import { aTicket } from '../support/engine-contract.js';
import { startRedisServer } from '../support/redis-server.js';

describe('engine from configuration', () => {
  it('is the memory engine when no Redis is configured', async () => {
    const { engine, close } = createEngine(engineChoice(loadConfig({})));
    expect(engine.kind).toBe('memory');
    await close();
  });

  it('is the Redis engine over its own connections when REDIS_URL is set', async () => {
    const server = await startRedisServer();
    const errors: Error[] = [];
    try {
      const { engine, close } = createEngine(engineChoice(loadConfig({ REDIS_URL: server.url })), {
        onConnectionError: (error) => errors.push(error),
      });
      try {
        expect(engine.kind).toBe('redis');
        await engine.ping();
        const ticket = aTicket();
        await engine.tickets.create(ticket);
        expect(await engine.tickets.get(ticket.id)).toEqual(ticket);
      } finally {
        await close();
      }
      expect(errors).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
