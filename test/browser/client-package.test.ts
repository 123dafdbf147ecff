/**
 * `@qrgate/client` as a user gets it: `npm pack` of libs/client (built by `npm run build`), the tarball
 * installed offline into a fresh temporary project, a small consumer type-checked against the package's
 * declarations (bundler and NodeNext resolution, with misuse that must not compile) and bundled, and the
 * React example (examples/react) built by its own build script from the same tarball. Both pages then log in
 * for real in Chromium against a gateway on another origin.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Standalone } from '../../apps/standalone/standalone.js';
import { scan } from '../support/phone.js';
import { startTestStandalone } from '../support/standalone.js';
import { launchChromium, shownTicket, snapshot } from './chromium.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const rootVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The consumer: renders the widget, records states, and on login reports the session, then destroys. */
const CONSUMER = `
import {
  createQrLogin,
  MESSAGES,
  type QrLoginErrorCode,
  type QrLoginHandle,
  type QrLoginResult,
  type QrLoginStateName,
} from '@qrgate/client';

const container = document.getElementById('login');
const out = document.getElementById('result');
const gateway = new URL(location.href).searchParams.get('gateway');
if (container === null || out === null || gateway === null) throw new Error('page incomplete');

const states: QrLoginStateName[] = [];
const handle: QrLoginHandle = createQrLogin({
  url: gateway,
  container,
  locale: 'en',
  messages: { title: MESSAGES.en.title },
  onStateChange(state) {
    states.push(state.state);
    out.dataset.states = states.join(',');
  },
  onLogin(result: QrLoginResult) {
    out.dataset.openid = result.openid;
    out.dataset.token = result.token;
    handle.destroy();
    out.dataset.destroyed = String(container.childElementCount === 0);
  },
});

// Never called: only compiled. Each line must fail to type-check, or the declarations are too loose.
export function misuse(): void {
  // @ts-expect-error url is required
  createQrLogin({});
  // @ts-expect-error only 'en' and 'zh' are locales
  createQrLogin({ url: 'https://gw.example', locale: 'fr' });
  // @ts-expect-error not an error code
  const code: QrLoginErrorCode = 'NOPE';
  // @ts-expect-error destroy takes no argument
  handle.destroy(true);
  void code;
}
`;

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>consumer</title></head>
<body><div id="login"></div><output id="result"></output><script type="module" src="./consumer.js"></script></body></html>`;

function tsconfig(resolution: 'bundler' | 'nodenext'): string {
  return JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: resolution === 'bundler' ? 'ESNext' : 'NodeNext',
      moduleResolution: resolution,
      lib: ['ES2022', 'DOM'],
      strict: true,
      noEmit: true,
      // Check the package's own .d.ts files too.
      skipLibCheck: false,
      types: [],
    },
    files: ['consumer.ts'],
  });
}

/** Serve `dirs` (URL prefix → folder) over HTTP on localhost: another origin than the gateway's 127.0.0.1. */
async function serveStatic(dirs: Record<string, string>): Promise<{ url: string; server: Server }> {
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    for (const [prefix, dir] of Object.entries(dirs)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length) || 'index.html'));
      if (file.startsWith(dir) && existsSync(file)) {
        res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
        createReadStream(file).pipe(res);
        return;
      }
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://localhost:${(server.address() as AddressInfo).port}`, server };
}

describe('@qrgate/client package', () => {
  let work: string;
  let project: string;
  let tarball: string;
  let app: Standalone;
  let browser: Browser;
  let site: { url: string; server: Server };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'qrgate-client-package-'));
    const { stdout } = await run('npm', ['pack', join(ROOT, 'libs/client'), '--pack-destination', work, '--json'], { cwd: work });
    const [packed] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(work, packed.filename);
    project = join(work, 'consumer');
    mkdirSync(join(project, 'site'), { recursive: true });
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { '@qrgate/client': `file:${tarball}` } }),
    );
    // No network: the package has no dependencies, so the tarball is all npm needs.
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project });
    writeFileSync(join(project, 'consumer.ts'), CONSUMER);
    writeFileSync(join(project, 'tsconfig.bundler.json'), tsconfig('bundler'));
    writeFileSync(join(project, 'tsconfig.nodenext.json'), tsconfig('nodenext'));
    writeFileSync(join(project, 'site/index.html'), PAGE);

    const siteDirs = { '/consumer/': join(project, 'site'), '/react/': join(work, 'react') };
    site = await serveStatic(siteDirs);
    [app, browser] = await Promise.all([startTestStandalone({ LOGIN_CONFIRMATION: 'scan', ALLOWED_ORIGINS: site.url }), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await new Promise((resolve) => site?.server.close(resolve));
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('packs ESM, declarations and the README, versioned with the product, with no runtime dependencies', () => {
    const installed = join(project, 'node_modules/@qrgate/client');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.version).toBe(rootVersion);
    expect(manifest.type).toBe('module');
    expect(manifest.dependencies).toBeUndefined();
    for (const file of ['dist/index.js', 'dist/types/client/index.d.ts', 'dist/types/protocol/events.d.ts', 'README.md']) {
      expect(existsSync(join(installed, file)), file).toBe(true);
    }
    // Nothing of the server side or the TypeScript sources ships.
    expect(existsSync(join(installed, 'qr-login.ts'))).toBe(false);
    expect(readFileSync(join(installed, 'dist/index.js'), 'utf8')).toMatch(/export\s*\{[^}]*createQrLogin/);
  });

  it('type-checks a consumer with bundler and NodeNext resolution, and rejects misuse', async () => {
    for (const config of ['tsconfig.bundler.json', 'tsconfig.nodenext.json']) {
      const result = await run(process.execPath, [TSC, '-p', config], { cwd: project }).then(
        () => ({ ok: true, out: '' }),
        (error: { stdout: string }) => ({ ok: false, out: error.stdout }),
      );
      expect(result.out, config).toBe('');
      expect(result.ok).toBe(true);
    }
    // The @ts-expect-error lines are what makes this meaningful: without them the misuse must fail.
    writeFileSync(join(project, 'consumer.ts'), CONSUMER.replaceAll('// @ts-expect-error', '//'));
    const loose = await run(process.execPath, [TSC, '-p', 'tsconfig.bundler.json'], { cwd: project }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    writeFileSync(join(project, 'consumer.ts'), CONSUMER);
    expect(loose.match(/error TS/g)).toHaveLength(4);
  });

  async function loginOn(page: Page, openid: string): Promise<void> {
    const { ticket } = await shownTicket(page);
    await scan(app.url, { scene: ticket, openid });
  }

  it('logs in from the bundled consumer in Chromium, and destroy() removes the widget', async () => {
    await build({
      absWorkingDir: project,
      entryPoints: ['consumer.ts'],
      outfile: join(project, 'site/consumer.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      logLevel: 'warning',
    });
    const context = await browser.newContext({ locale: 'en-US' });
    try {
      const page = await context.newPage();
      await page.goto(`${site.url}/consumer/?gateway=${encodeURIComponent(app.url)}`);
      await loginOn(page, 'o_package_consumer');
      const result = page.locator('#result[data-openid]');
      await result.waitFor({ state: 'attached', timeout: 20_000 });
      expect(await result.getAttribute('data-openid')).toBe('o_package_consumer');
      expect(await result.getAttribute('data-destroyed')).toBe('true');
      expect((await result.getAttribute('data-states'))?.split(',')).toContain('pending');
      expect(await page.locator('#login').evaluate((el) => el.childElementCount)).toBe(0);
      const token = (await result.getAttribute('data-token')) ?? '';
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${app.url}/.well-known/jwks.json`)), {
        // The consumer page's site began the login, so the token is for it alone (issue 16, item 6).
        audience: new URL(site.url).origin,
      });
      expect(payload.sub).toBe('o_package_consumer');
    } finally {
      await context.close();
    }
  });

  it('builds the React example from the tarball and logs in with it in Chromium', async () => {
    const { stdout } = await run(process.execPath, [join(ROOT, 'examples/react/build.mjs'), '--outdir', join(work, 'react')], {
      env: { ...process.env, QRGATE_URL: app.url, NODE_PATH: join(project, 'node_modules') },
    });
    expect(stdout).toContain('built');
    // The gateway's origin is baked in at build time (build.mjs, QRGATE_URL).
    expect(readFileSync(join(work, 'react/main.js'), 'utf8')).toContain(app.url);

    const context = await browser.newContext({ locale: 'en-US' });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${site.url}/react/`);
      await expect.poll(() => page.locator('.qr-login').getAttribute('data-sdk-state'), { timeout: 15_000 }).toBe('pending');
      await snapshot(page, 'react-example-waiting');
      await loginOn(page, 'o_react_example');
      const signedIn = page.locator('.signed-in');
      await signedIn.waitFor({ timeout: 20_000 });
      expect(await signedIn.getAttribute('data-openid')).toBe('o_react_example');
      // Signing in unmounted the component, whose cleanup destroyed the widget.
      expect(await page.locator('.qrgate').count()).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('type-checks the React example against the packed declarations', async () => {
    const config = join(work, 'tsconfig.react.json');
    writeFileSync(
      config,
      JSON.stringify({
        extends: join(ROOT, 'examples/react/tsconfig.json'),
        compilerOptions: { paths: { '@qrgate/client': [join(project, 'node_modules/@qrgate/client')] } },
        include: [join(ROOT, 'examples/react/src')],
      }),
    );
    const out = await run(process.execPath, [TSC, '-p', config], { cwd: work }).then(
      () => '',
      (error: { stdout: string }) => error.stdout || 'tsc failed',
    );
    expect(out).toBe('');
  });
});
