/**
 * `POST /api/session` refuses every malformed request with a specific status and message, and issues nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { startTestStandalone } from '../support/standalone.js';

describe('POST /api/session refusals', () => {
  let app: Standalone;
  beforeAll(async () => {
    app = await startTestStandalone({ LOGIN_CONFIRMATION: 'scan' });
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = async (body: string | Uint8Array, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await fetch(`${app.url}/api/session`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : new Blob([new Uint8Array(body)]),
    });
    return { status: res.status, body: (await res.json()) as { error: string; code?: string }, cookie: res.headers.get('set-cookie') };
  };

  it.each([
    [
      'a wrong Content-Type',
      () => post('{"code":"a","secret":"b"}', { 'content-type': 'text/plain' }),
      415,
      /Content-Type: application\/json/,
    ],
    ['an empty JSON body', () => post(''), 400, /empty body/],
    ['malformed JSON', () => post('{"code":'), 400, /not valid JSON/],
    [
      'a compressed body',
      () => post(gzipSync('{"code":"a","secret":"b"}'), { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
      415,
      /Content-Encoding: gzip/,
    ],
    ['a body over 4 KiB', () => post(JSON.stringify({ code: 'x'.repeat(5000), secret: 'y' })), 413, /too large/],
    ['missing fields', () => post('{"code":"only"}'), 400, /code, secret/],
    ['extra fields', () => post('{"code":"a","secret":"b","admin":true}'), 400, /code, secret/],
    [
      'a code that names no ticket',
      () => post(JSON.stringify({ code: `${'A'.repeat(22)}.${'B'.repeat(22)}`, secret: 'x'.repeat(43) })),
      401,
      /unknown or expired code/,
    ],
  ] as const)('refuses %s', async (_name, send, status, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.body.error).toMatch(message);
    expect(res.cookie).toBeNull();
  });
});
