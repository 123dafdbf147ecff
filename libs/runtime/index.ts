/**
 * `libs/runtime`: composition helpers for the apps' entry points, not domain code. Creating the engine the
 * configuration chose, opening a process's logger/metrics/engine, listening, shutting down on a signal, and the
 * one timeout race.
 */
export { createEngine, type ConfiguredEngine, type CreateEngineOptions } from './create-engine.js';
export { openRuntime, type Runtime } from './open-runtime.js';
export { listen, localUrl } from './listen.js';
export { createHttpServer, DEFAULT_REQUEST_TIMEOUT_SECONDS } from './http-server.js';
export { exitOnStartupError, onShutdownSignal, type ShutdownLogger } from './lifecycle.js';
export { TIMED_OUT, withTimeout } from './with-timeout.js';
export { serveMetrics, type MetricsServer } from './metrics-server.js';
export { SESSION_ADAPTER_PREFIX, connectionReady, createSessionAdapter, type SessionAdapter } from './session-adapter.js';
