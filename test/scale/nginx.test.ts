/**
 * The nginx example (`deploy/nginx/qrgate.conf`) for real: nginx runs it in front of three gateways and two
 * webhooks, with only the upstream addresses and the listen port filled in. Polling browsers need `ip_hash`
 * stickiness, WebSocket ones the Upgrade headers, and WeChat's pushes reach the webhooks at `/wechat`.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort, spawnTracked, waitUntilAnswers, type Spawned } from '../support/app-process.js';
import { mapLimit, pushScan, startScaleCluster, type ScaleCluster } from '../support/cluster.js';
import { LoginBrowser, browsersWithoutExactlyOneLogin } from '../support/login-browser.js';
import { startRedisServer, type RedisServerHandle } from '../support/redis-server.js';
import { requireTool } from '../support/test-tools.js';

// On PATH or QRGATE_NGINX (test-tools.ts).
const NGINX = requireTool('nginx');
const BROWSERS = 60;

/** The example with this machine's addresses: upstream servers, listen port, temp paths in `dir`. */
function renderNginxConfig(dir: string, port: number, cluster: ScaleCluster): string {
  let site = readFileSync(join(REPO_ROOT, 'deploy/nginx/qrgate.conf'), 'utf8');
  for (const [i, g] of cluster.gateways.entries()) site = site.replace(`gateway-${i + 1}:3000`, `127.0.0.1:${g.port}`);
  for (const [i, w] of cluster.webhooks.entries()) site = site.replace(`webhook-${i + 1}:3001`, `127.0.0.1:${w.port}`);
  site = site.replace('listen 80;', `listen 127.0.0.1:${port};`);
  site = site.replace('/var/log/nginx/qrgate.access.log', join(dir, 'access.log'));
  if (/gateway-\d|webhook-\d|listen 80;|\/var\/log/.test(site)) throw new Error('deploy/nginx/qrgate.conf changed shape: update this test');
  writeFileSync(join(dir, 'qrgate.conf'), site);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} warn;`,
      'events { worker_connections 2048; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(dir, t)};`),
      `  include ${join(dir, 'qrgate.conf')};`,
      '}',
    ].join('\n'),
  );
  return conf;
}

describe('login through the nginx example', () => {
  let redis: RedisServerHandle | undefined;
  let cluster: ScaleCluster | undefined;
  let nginx: Spawned | undefined;
  let url = '';
  let accessLog = '';
  const browsers: LoginBrowser[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
    cluster = await startScaleCluster({ gateways: 3, webhooks: 2, engineEnv: { REDIS_URL: redis.url } });
    const dir = mkdtempSync(join(tmpdir(), 'qrgate-nginx-'));
    const port = await freePort();
    const conf = renderNginxConfig(dir, port, cluster);
    accessLog = join(dir, 'access.log');
    const env = { PATH: process.env.PATH ?? '' };
    const check = spawnTracked(NGINX, ['-t', '-p', dir, '-c', conf], env);
    expect(await check.exited, check.output()).toBe(0);
    nginx = spawnTracked(NGINX, ['-p', dir, '-c', conf], env);
    url = `http://127.0.0.1:${port}`;
    await waitUntilAnswers(nginx, 'nginx', `${url}/readyz`, 10_000);
  });
  afterAll(async () => {
    for (const browser of browsers) browser.close();
    try {
      await nginx?.stop('SIGQUIT', 5_000);
    } finally {
      try {
        await cluster?.stop();
      } finally {
        await redis?.stop();
      }
    }
  });

  it('logs WebSocket-only and polling-then-upgrade browsers in once each', async () => {
    const opened = await mapLimit(
      Array.from({ length: BROWSERS }, (_, i) => i),
      20,
      (i) => LoginBrowser.open(url, i % 2 === 0 ? { transports: ['websocket'] } : { transports: ['polling', 'websocket'] }),
    );
    browsers.push(...opened);
    const pushes = await mapLimit(browsers, 20, (browser, i) =>
      pushScan(`${url}/wechat`, { scene: browser.ticket.ticket, openid: `o_nginx_${i}`, simUrl: cluster!.sim.url }),
    );
    expect(pushes.filter((p) => p.status !== 200)).toEqual([]);
    expect(await browsersWithoutExactlyOneLogin(browsers)).toEqual([]);
    const first = browsers[1]!;
    expect((await first.exchange(first.logins()[0]!.code)).status).toBe(200);
  }, 90_000);

  it('logs /confirm and /wechat without their query (issue 16, item 7), other paths as usual', async () => {
    await fetch(`${url}/confirm?t=old-style-token-in-query`);
    await fetch(`${url}/wechat?openid=o_logged_openid&signature=0123abcd&timestamp=1&nonce=2`);
    await fetch(`${url}/healthz?probe=kept`);
    // nginx writes the line when the response is done; give the worker a moment to flush it.
    let log = '';
    for (let i = 0; i < 50 && !log.includes('probe=kept'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      log = existsSync(accessLog) ? readFileSync(accessLog, 'utf8') : '';
    }
    expect(log).toContain('"GET /confirm HTTP/1.1"');
    expect(log).toContain('"GET /wechat HTTP/1.1"');
    expect(log).toContain('"GET /healthz?probe=kept HTTP/1.1"');
    expect(log).not.toMatch(/old-style-token|o_logged_openid|0123abcd/);
  });

  it('keeps /metrics off the public port', async () => {
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
  });
});
