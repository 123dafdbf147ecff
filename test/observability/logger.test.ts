/**
 * What the production logger writes: secrets redacted, error codes kept.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../libs/observability/index.js';

function capture(): { lines: () => string; destination: Writable } {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return { lines: () => out, destination };
}

describe('logger', () => {
  it('keeps error codes while hiding login codes and secrets', () => {
    const { lines, destination } = capture();
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
