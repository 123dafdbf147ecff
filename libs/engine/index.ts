/** The engine library's public surface: the contract and the factories that implement it. */
export type {
  ApplyOptions,
  ApplyResult,
  AttemptLimit,
  BudgetOptions,
  Budgets,
  BudgetVerdict,
  DeliveryClaim,
  Engine,
  EngineObserver,
  KeyValueStore,
  LeaseSet,
  RateLimitOptions,
  TicketChange,
  TicketChangeListener,
  TicketEventBus,
  TicketStore,
} from './engine.js';
export type { RateLimiter, RateLimitVerdict } from './rate-limiter.js';
export { createMemoryEngine, type MemoryEngineOptions } from './memory-engine.js';
export {
  createRedisEngine,
  type RedisConnection,
  type RedisEngine,
  type RedisEngineOptions,
} from './redis-engine.js';
export { REPLICA_ACK_TIMEOUT_MS, ReplicaUnconfirmedError } from './replica-ack.js';
export {
  createRedisClients,
  type RedisClients,
  type RedisClientsOptions,
  type RedisConnectionRole,
  type RedisErrorHandler,
} from './redis-clients.js';
