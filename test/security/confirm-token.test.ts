/**
 * Issue 16, item 7: the confirmation token never sits in a logged URL, and the decision belongs to the device
 * that opened the link. The link carries the token in its fragment (never sent, so never logged); the page
 * posts it; the first device to open it gets a short-lived SameSite=Strict cookie, and a copy of the link
 * (read from a log, a screenshot, a shoulder) opened or answered anywhere else is refused and changes nothing.
 * The shipped nginx file logs `/confirm` and `/wechat` without their query, the ingress format no query at all.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { REPO_ROOT } from '../support/app-process.js';
import type { LoginBrowser } from '../support/login-browser.js';
import { followLink, linkIn, scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { expectUnchanged, openBrowser, openConfirmation, postConfirmation, snapshot, tokenOf } from './security-harness.js';

let app: Standalone;
const browsers: LoginBrowser[] = [];
beforeAll(async () => {
  app = await startTestStandalone({ LOGIN_CONFIRMATION: 'tap', TRUST_PROXY: '127.0.0.1' });
});
afterAll(async () => {
  for (const browser of browsers) browser.close();
  await app?.close();
});
const scanned = async (openid: string) => {
  const browser = await openBrowser(app);
  browsers.push(browser);
  const result = await scan(app.url, { scene: browser.ticket.ticket, openid });
  await browser.waitFor('status', (s) => s.status === 'scanned');
  return { browser, link: linkIn(result.reply)! };
};

describe('the confirmation token stays out of logged URLs', () => {
  it('the link carries the token in its fragment only; the page it opens names no token', async () => {
    const { link } = await scanned('o_token_fragment');
    const url = new URL(link);
    expect(url.pathname).toBe('/confirm');
    expect(url.search).toBe('');
    expect(tokenOf(link)).toMatch(/^[^.]+\.\d+\.[A-Za-z0-9_-]{43}$/);
    // What a proxy sees and logs is `GET /confirm`: the page has no token in it and sets nothing.
    const opener = await fetch(new URL(url.pathname, url));
    expect(opener.status).toBe(200);
    expect(await opener.text()).not.toContain(tokenOf(link));
    expect(opener.headers.getSetCookie()).toEqual([]);
  });

  it('binds the link to the device that opened it: HttpOnly, SameSite=Strict, short-lived, path /confirm', async () => {
    const { link } = await scanned('o_token_cookie');
    const { page } = await openConfirmation(app, tokenOf(link));
    expect(page.status).toBe(200);
    const [cookie] = page.headers.getSetCookie();
    expect(cookie).toMatch(/^qrgate_confirm=[A-Za-z0-9_-]{24}; /);
    expect(cookie).toMatch(/; path=\/confirm/i);
    expect(cookie).toMatch(/; samesite=strict/i);
    expect(cookie).toMatch(/; httponly/i);
    // Lives as long as the ticket could still be decided (TTL 120 s), plus a minute.
    const lifetime = (Date.parse(/; expires=([^;]+)/i.exec(cookie ?? '')?.[1] ?? '') - Date.now()) / 1000;
    expect(lifetime).toBeGreaterThan(0);
    expect(lifetime).toBeLessThanOrEqual(120 + 60 + 1);
  });

  it('another device with a copy of the link can neither open nor answer it; nothing changes, and the scanner still can', async () => {
    const { browser, link } = await scanned('o_token_thief');
    const scanner = await openConfirmation(app, tokenOf(link));
    expect(scanner.page.status).toBe(200);
    const before = await snapshot(app, browser);

    // A log reader replays the token: opening it elsewhere, answering without the cookie or with a made-up one.
    const reopened = await followLink(link, 'confirm');
    expect(reopened.page.status).toBe(403);
    expect(reopened.page.body).toContain('This link was opened on another device and can only be answered there.');
    expect(reopened.submitted).toBeNull();
    for (const cookie of [undefined, 'qrgate_confirm=AAAAAAAAAAAAAAAAAAAAAAAA']) {
      const answered = await postConfirmation(app, tokenOf(link), 'confirm', cookie);
      expect(answered.status).toBe(403);
      expect(answered.body).toContain('opened on another device');
    }
    await expectUnchanged(app, browser, before);
    expect(browser.logins()).toEqual([]);

    // The scanner's device decides.
    const confirmed = await postConfirmation(app, tokenOf(link), 'confirm', scanner.cookie);
    expect(confirmed.status).toBe(200);
    await browser.waitFor('login');
  });

  it('the shipped nginx file logs /confirm and /wechat without their query', () => {
    const conf = readFileSync(`${REPO_ROOT}/deploy/nginx/qrgate.conf`, 'utf8');
    const format = /log_format\s+qrgate\s+([\s\S]*?);/.exec(conf)?.[1] ?? '';
    expect(format).toContain('$qrgate_request_line');
    expect(format).not.toMatch(/\$request\b|\$request_uri|\$args|\$query_string/);
    const map = /map \$uri \$qrgate_request_line \{([\s\S]*?)\}/.exec(conf)?.[1] ?? '';
    expect(map).toMatch(/~\^\/\(confirm\|wechat\)\$\s+"\$request_method \$uri \$server_protocol";/);
    expect(conf).toMatch(/access_log\s+\S+\s+qrgate;/);
  });

  it('the shipped ingress-nginx log format logs the path without any query', () => {
    const patch = parse(readFileSync(`${REPO_ROOT}/deploy/k8s/ingress-nginx/log-format.yaml`, 'utf8')) as { data: Record<string, string> };
    const format = patch.data['log-format-upstream'] ?? '';
    expect(format).toContain('"$request_method $uri $server_protocol"');
    expect(format).not.toMatch(/\$request\b(?!_)|\$request_uri|\$args|\$query_string|\$arg_/);
  });
});
