/**
 * REPLY_TEXTS_FILE: the account's own words reach the scanner in every reply kind, entries left out keep the
 * built-in text, and a bad file stops start-up naming the entry. The settings come from the environment
 * through `webhookSettings`, exactly as `main.ts` and `npm start` build them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { webhookSettings } from '../../apps/webhook/index.js';
import { ConfigError, loadConfig } from '../../libs/config/index.js';
import { readReply } from '../../libs/wechat/index.js';
import { APP_ID, BROWSER_IP, TOKEN } from '../support/fixtures.js';
import { scanEvent, startWebhook, type Harness } from '../support/webhook-harness.js';

const dir = mkdtempSync(join(tmpdir(), 'qrgate-reply-texts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** Write `content` (an object is written as JSON) to a fresh file and return its path. */
function replyFile(content: unknown): string {
  const path = join(dir, `texts-${++files}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const LINKS = { SESSION_SECRET: 'reply-texts-test-secret-0123456789', PUBLIC_URL: 'https://login.example.com' };

/** The webhook settings `main.ts` would build from this environment. */
function settingsFrom(env: Record<string, string>) {
  return webhookSettings(loadConfig({ WECHAT_APPID: APP_ID, WECHAT_TOKEN: TOKEN, LOGIN_CONFIRMATION: 'scan', ...env }), {
    inProcess: true,
  });
}

/** The ConfigError's lines for this environment (fails the test when start-up would succeed). */
function refusalOf(env: Record<string, string>): string {
  try {
    settingsFrom(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('start-up was expected to refuse this REPLY_TEXTS_FILE');
}

const content = (reply: { body: string }): string => readReply(reply.body).content ?? '';

describe('a reply-text file changes what the scanner reads', () => {
  let hook: Harness | undefined;
  afterEach(async () => {
    await hook?.close();
    hook = undefined;
  });

  it('scan mode: loggedIn with every placeholder, then refused and unknownCode, in both languages', async () => {
    const path = replyFile({
      loggedIn: { zh: '欢迎！{browser} / {os} / {ip} / {time} / 第{count}次', en: 'Welcome on {browser}, login #{count}' },
      refused: { zh: '码已用过', en: 'Code used' },
      unknownCode: { zh: '码不认识', en: '' },
    });
    hook = await startWebhook(settingsFrom({ LOGIN_CONFIRMATION: 'scan', REPLY_TEXTS_FILE: path }));
    const ticket = await hook.createTicket();

    const first = content(await hook.push(scanEvent(ticket, { openid: 'o_alice', event: 'subscribe' })));
    const [zh, en, ...rest] = first.split('\n');
    expect(rest).toEqual([]);
    expect(zh).toMatch(
      new RegExp(
        `^欢迎！Chrome 120 / Windows 10 / ${BROWSER_IP.replaceAll('.', '\\.')} / \\d{4}/\\d\\d/\\d\\d \\d\\d:\\d\\d:\\d\\d（北京时间） / 第1次$`,
      ),
    );
    expect(en).toBe('Welcome on Chrome 120, login #1');
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('confirmed');

    expect(content(await hook.push(scanEvent(ticket, { openid: 'o_mallory', createTime: 1718000100 })))).toBe('码已用过\nCode used');
    // An empty language is left out rather than sent as a blank line.
    const unknown = { ...ticket, id: 'AAAAAAAAAAAAAAAAAAAAAA' };
    expect(content(await hook.push(scanEvent(unknown, { openid: 'o_alice', createTime: 1718000200 })))).toBe('码不认识');
  });

  it('tap mode: confirmRequest carries the link where the file puts it; alreadyScanned gets the link after it', async () => {
    const path = replyFile({
      confirmRequest: { zh: '请在这里确认 {browser} 的登录：{link} 。', en: 'Confirm from {ip}' },
      alreadyScanned: { zh: '又扫了一次', en: 'Scanned again' },
    });
    hook = await startWebhook(settingsFrom({ LOGIN_CONFIRMATION: 'tap', REPLY_TEXTS_FILE: path, ...LINKS }));
    const ticket = await hook.createTicket();

    const first = content(await hook.push(scanEvent(ticket, { openid: 'o_olga' })));
    const link = /https:\/\/login\.example\.com\/confirm#\S+/.exec(first)?.[0];
    expect(link).toBeDefined();
    expect(first).toBe(`请在这里确认 Chrome 120 的登录：${link} 。\nConfirm from ${BROWSER_IP}`);
    expect((await hook.engine.tickets.get(ticket.id))?.status).toBe('scanned');

    const again = content(await hook.push(scanEvent(ticket, { openid: 'o_olga', createTime: 1718000999 })));
    expect(again).toBe(`又扫了一次\nScanned again\n${link}`);
  });

  it('entries left out keep the built-in text', async () => {
    hook = await startWebhook(
      settingsFrom({ LOGIN_CONFIRMATION: 'scan', REPLY_TEXTS_FILE: replyFile({ refused: { zh: '已用', en: 'Used' } }) }),
    );
    const ticket = await hook.createTicket();
    const first = content(await hook.push(scanEvent(ticket, { openid: 'o_bob' })));
    expect(first).toContain('✅ 扫码登录成功');
    expect(first).toMatch(/第 1 次/);
    expect(content(await hook.push(scanEvent(ticket, { openid: 'o_eve', createTime: 1718000300 })))).toBe('已用\nUsed');
  });
});

describe('a bad reply-text file stops start-up, naming the entry', () => {
  it('an unknown placeholder', () => {
    const message = refusalOf({ REPLY_TEXTS_FILE: replyFile({ loggedIn: { zh: '你好 {browsr}', en: 'Hi' } }) });
    expect(message).toContain('REPLY_TEXTS_FILE');
    expect(message).toContain('"loggedIn.zh" has unknown placeholder {browsr}');
    expect(message).toContain('{browser}');
  });

  it('a placeholder the kind does not take', () => {
    const message = refusalOf({ REPLY_TEXTS_FILE: replyFile({ refused: { zh: '已用', en: 'Used by {ip}' } }) });
    expect(message).toContain('"refused.en" has unknown placeholder {ip} (this entry takes no placeholders)');
  });

  it('confirmRequest without {link}', () => {
    const message = refusalOf({ REPLY_TEXTS_FILE: replyFile({ confirmRequest: { zh: '请确认', en: 'Please confirm' } }) });
    expect(message).toContain('entry "confirmRequest" must contain {link}');
  });

  it('an unknown entry, an unknown field, a missing language, an entry that is not an object', () => {
    const message = refusalOf({
      REPLY_TEXTS_FILE: replyFile({
        loggedin: { zh: 'a', en: 'b' },
        refused: { zh: 'a', en: 'b', fr: 'c' },
        unknownCode: { zh: 'a' },
        alreadyScanned: 'Already',
      }),
    });
    expect(message).toContain('unknown entry "loggedin"');
    expect(message).toContain('entry "refused" has unknown field "fr"');
    expect(message).toContain('entry "unknownCode" needs "en" as a string');
    expect(message).toContain('entry "alreadyScanned" must be an object');
  });

  it('an empty entry, and a file that is not a JSON object', () => {
    expect(refusalOf({ REPLY_TEXTS_FILE: replyFile({ refused: { zh: ' ', en: '' } }) })).toContain(
      'entry "refused" is empty in both zh and en',
    );
    expect(refusalOf({ REPLY_TEXTS_FILE: replyFile('{"refused": ') })).toContain('REPLY_TEXTS_FILE: not valid JSON');
    expect(refusalOf({ REPLY_TEXTS_FILE: replyFile(['refused']) })).toContain('REPLY_TEXTS_FILE: expected a JSON object');
  });

  it('a file that cannot be read', () => {
    const missing = join(dir, 'no-such-file.json');
    expect(refusalOf({ REPLY_TEXTS_FILE: missing })).toContain(`REPLY_TEXTS_FILE: cannot read ${JSON.stringify(missing)} (ENOENT)`);
  });

  it('the complete example file of the README starts, with all five entries', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('### Your own reply texts'));
    const example = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const texts = settingsFrom({ REPLY_TEXTS_FILE: replyFile(example), ...LINKS }).replyTexts ?? {};
    expect(Object.keys(texts)).toEqual(['loggedIn', 'confirmRequest', 'alreadyScanned', 'unknownCode', 'refused']);
  });
});
