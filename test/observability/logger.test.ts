/**
 * What the production logger writes: secrets redacted, error codes kept.
 */
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../libs/observability/index.js';
import { logSink } from '../support/log-sink.js';

describe('logger', () => {
  it('keeps error codes while hiding login codes and secrets', () => {
    const { text: lines, stream: destination } = logSink();
    const logger = createLogger({ app: 'test', destination });
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    logger.error({ err }, 'redis down');
    logger.info({ body: { code: 'TICKETID0000000000000.LOGINCODE', secret: 'SECRET-VALUE' } }, 'exchange');
    const out = lines();
    expect(out).toContain('"code":"ECONNREFUSED"');
    expect(out).not.toContain('LOGINCODE');
    expect(out).not.toContain('SECRET-VALUE');
  });
});

describe('gateway request log', () => {
  it('writes one line per request with a request id, the path without its query, and the status', async () => {
    const { startStandalone } = await import('../../apps/standalone/standalone.js');
    const { loadConfig } = await import('../../libs/config/index.js');
    const { text: lines, stream: destination } = logSink();
    const app = await startStandalone(loadConfig({ PORT: '0', HOST: '127.0.0.1' }), {
      logger: createLogger({ app: 'test', destination }),
    });
    try {
      const res = await fetch(`${app.url}/api/session?leak=query-string-value`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-123' },
        body: '{}',
      });
      expect(res.headers.get('x-request-id')).toBe('req-123');
      const line = lines()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === 'request' && l.requestId === 'req-123');
      expect(line).toMatchObject({ method: 'POST', path: '/api/session', status: 400 });
      expect(lines()).not.toContain('query-string-value');
    } finally {
      await app.close();
    }
  });
});
