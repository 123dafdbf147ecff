/**
 * Logs without secrets: a whole tap-mode login in safe mode, plus the refusals an attacker would provoke,
 * captured from the product's own logger at debug level. No ticket id, browser secret, login code, session
 * token, confirmation link, signed query string, AES key or SESSION_SECRET may appear; ticket ids appear only
 * as `ticketLogId` hashes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandalone, type Standalone } from '../../apps/standalone/standalone.js';
import { loadConfig } from '../../libs/config/index.js';
import { createLogger } from '../../libs/observability/index.js';
import { ticketLogId } from '../../libs/ticket/index.js';
import { AES_KEY } from '../support/fixtures.js';
import { logSink } from '../support/log-sink.js';
import { LoginBrowser } from '../support/login-browser.js';
import { followLink, linkIn, scan } from '../support/phone.js';
import { postPush, scanOf, signed, tokenOf } from './security-harness.js';

describe('logged database errors', () => {
  it("keep the failed command's name but never its arguments (a ticket CAS carries the login code)", () => {
    const sink = logSink();
    const logger = createLogger({ app: 'test', level: 'debug', destination: sink.stream });
    const secret = 'AAAAAAAAAAAAAAAAAAAAAA.login-code-that-must-not-leak';
    const ticketJson = JSON.stringify({ id: 'AAAAAAAAAAAAAAAAAAAAAA', status: 'confirmed', code: secret });
    // The shape of an ioredis ReplyError: the command, with its arguments, rides on the error.
    const redisError = (): Error =>
      Object.assign(new Error('ERR Error running script'), {
        command: { name: 'evalsha', args: ['f00d', '1', 'ticket:AAAA', ticketJson] },
      });
    const transaction = Object.assign(redisError(), { previousErrors: [redisError(), redisError()] });
    const cluster = Object.assign(new Error('Failed to refresh slots cache.'), { lastNodeError: redisError() });
    const wrapped = new Error('store unavailable', { cause: redisError() });

    logger.error({ err: redisError() }, 'apply failed');
    logger.error({ err: transaction }, 'transaction failed');
    logger.error({ err: cluster }, 'cluster failed');
    logger.error({ err: wrapped }, 'wrapped failure');
    logger.warn({ error: redisError() }, 'logged under another key');
    logger.error(redisError(), 'logged as the object');

    const logged = sink.text();
    expect(logged.trim().split('\n')).toHaveLength(6);
    expect(logged).not.toContain(secret);
    expect(logged).not.toContain('login-code');
    expect(logged).toContain('"name":"evalsha"');
  });
});

const SESSION_SECRET = 'log-test-session-secret-5f1c2a9e';

describe('structured logs of a full login', () => {
  let app: Standalone;
  const sink = logSink();
  beforeAll(async () => {
    // The production logger (same redaction), writing where the test can read it.
    const logger = createLogger({ app: 'standalone', level: 'debug', destination: sink.stream });
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', WECHAT_AES_KEY: AES_KEY, SESSION_SECRET });
    app = await startStandalone(config, { logger });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('never contain ticket secrets, login codes, tokens, links, signed query strings or keys; ticket ids only hashed', async () => {
    const browser = await LoginBrowser.open(app.url);
    const { ticket, secret } = browser.ticket;
    const scanned = await scan(app.url, { scene: ticket, openid: 'o_logged', encrypt: true });
    const link = linkIn(scanned.reply)!;
    expect((await followLink(link, 'confirm')).submitted?.status).toBe(200);
    const { code } = await browser.waitFor('login');
    expect((await browser.exchange(code, 'A'.repeat(43))).status).toBe(401);
    const session = await browser.exchange(code, secret);
    expect(session.status).toBe(200);
    // The browser's own retry is replayed as the same session (and logged as such, without its secrets)…
    expect((await browser.exchange(code, secret)).status).toBe(200);
    // …a reuse without the secret is refused.
    expect((await browser.exchange(code, 'B'.repeat(43))).status).toBe(401);
    // Refusals an attacker provokes: a captured query string replayed with another body, a forged signature.
    const captured = signed(await scanOf(app, ticket, 'o_logged'));
    await postPush(app, captured.query, captured.body);
    await postPush(app, captured.query, await scanOf(app, ticket, 'o_mallory'));
    const forged = signed(await scanOf(app, ticket, 'o_mallory'), { token: 'not-the-token' });
    await postPush(app, forged.query, forged.body);
    browser.close();

    const query = new URLSearchParams(captured.query);
    const secrets: Record<string, string> = {
      'ticket id': ticket,
      'browser secret': secret,
      'login code': code,
      'login code (random part)': code.split('.')[1]!,
      'session token': session.body.token,
      'confirmation link': link,
      'confirmation token': tokenOf(link),
      'confirmation MAC': tokenOf(link).split('.')[2]!,
      'signed query string': captured.query,
      signature: query.get('signature')!,
      'forged signature': new URLSearchParams(forged.query).get('signature')!,
      'AES key': AES_KEY,
      SESSION_SECRET,
    };
    const logged = sink.text();
    expect(logged.length).toBeGreaterThan(0);
    const lines = logged
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const [name, value] of Object.entries(secrets)) {
      expect(logged.includes(value), `${name} leaked into the logs`).toBe(false);
    }
    expect(lines.some((line) => line['ticket'] === ticketLogId(ticket))).toBe(true);
    expect(lines.some((line) => line['outcome'] === 'replay_mismatch')).toBe(true);
    expect(lines.some((line) => line['msg'] === 'login confirmed on the phone')).toBe(true);
  });
});
