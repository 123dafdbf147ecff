/**
 * Issue 16 item 12, the README's "What safe mode guarantees", held to its words: with an EncodingAESKey but
 * without WECHAT_REQUIRE_ENCRYPTION a plaintext push is still accepted (compatible mode), so a captured signed
 * query string can carry a forged plaintext body; only WECHAT_REQUIRE_ENCRYPTION=true refuses plaintext, and
 * the refused push changes nothing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/app-process.js';
import { AES_KEY } from '../support/fixtures.js';
import { scanEvent, startWebhook, type Harness } from '../support/webhook-harness.js';

let hook: Harness | undefined;
afterEach(async () => {
  await hook?.close();
  hook = undefined;
});

describe('what safe mode guarantees (issue 16 item 12)', () => {
  it('WECHAT_AES_KEY alone still accepts a plaintext push: it is not a guarantee', async () => {
    hook = await startWebhook({ aesKey: AES_KEY });
    const ticket = await hook.createTicket();
    const res = await hook.push(scanEvent(ticket, { openid: 'o_plain_forger' }));
    expect(res.status).toBe(200);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');
  });

  it('WECHAT_REQUIRE_ENCRYPTION=true refuses the same plaintext push, 400, and changes nothing', async () => {
    hook = await startWebhook({ aesKey: AES_KEY, requireEncryption: true });
    const ticket = await hook.createTicket();
    const before = await hook.engine.tickets.get(ticket.id);
    const res = await hook.push(scanEvent(ticket, { openid: 'o_plain_forger' }));
    expect(res.status).toBe(400);
    expect(res.body).toBe('plaintext push refused: this webhook accepts safe-mode (encrypt_type=aes) pushes only');
    expect(await hook.engine.tickets.get(ticket.id)).toEqual(before);
  });

  it('the README says so', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('**Only with `WECHAT_REQUIRE_ENCRYPTION=true` are\nplaintext pushes refused**');
    expect(readme).not.toContain('and safe\nmode closes the hole');
  });
});
