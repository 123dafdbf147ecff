/**
 * The pre-test tool check (test/support/test-tools.ts): tools come from PATH or their QRGATE_* variable, and a
 * machine that lacks one gets a single line naming it and the command that installs it, before any test runs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_TOOLS, installCommand, locateTool, missingTools, type TestToolId } from '../support/test-tools.js';

const run = promisify(execFile);
const CHECK = new URL('../support/test-tools.ts', import.meta.url).pathname;
const ids = Object.keys(TEST_TOOLS) as TestToolId[];
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A PATH holding only node and the given tools (symlinks to the real ones). */
function pathWith(tools: TestToolId[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'qrgate-path-'));
  dirs.push(dir);
  for (const id of tools) {
    const real = locateTool(id);
    if (real === undefined) throw new Error(`${id} is missing on this machine`);
    symlinkSync(real, join(dir, TEST_TOOLS[id].commands[0]));
  }
  return dir;
}

describe('test tools', () => {
  it('finds every tool this machine has on PATH (the pre-test check passed)', () => {
    expect(missingTools()).toEqual([]);
    for (const id of ids) expect(locateTool(id)).toMatch(/^\//);
  });

  it('lets a QRGATE_* variable choose the program, and counts a wrong one as missing', () => {
    const real = locateTool('haproxy');
    expect(locateTool('haproxy', { PATH: '', QRGATE_HAPROXY: real })).toBe(real);
    expect(locateTool('haproxy', { PATH: process.env.PATH, QRGATE_HAPROXY: '/nonexistent/haproxy' })).toBeUndefined();
    expect(missingTools({ PATH: '' }).map((t) => t.name)).toEqual(['redis-server', 'redis-cli', 'haproxy', 'nginx', 'chromium', 'apache2']);
  });

  it('takes redis-cli from beside QRGATE_REDIS_SERVER', () => {
    const dir = pathWith(['redisServer', 'redisCli']);
    expect(locateTool('redisCli', { PATH: '', QRGATE_REDIS_SERVER: join(dir, 'redis-server') })).toBe(join(dir, 'redis-cli'));
  });

  it('names the install command per platform', () => {
    const tools = [TEST_TOOLS.redisServer, TEST_TOOLS.redisCli, TEST_TOOLS.nginx];
    expect(installCommand(tools, 'linux', true)).toBe('sudo apt-get install -y redis-server redis-tools nginx');
    expect(installCommand(tools, 'darwin', false)).toBe('brew install redis nginx');
    expect(installCommand(tools, 'linux', false)).toMatch(/^install redis-server redis-cli nginx with your package manager/);
    expect(installCommand([TEST_TOOLS.apache2], 'linux', true)).toBe('sudo apt-get install -y apache2 libapache2-mod-auth-openidc');
  });

  it('stops at once with one line naming what is missing when installing is opted out', async () => {
    const path = `${pathWith(['haproxy', 'nginx', 'chromium', 'apache2'])}:${dirname(process.execPath)}`;
    const result = await run(process.execPath, [CHECK], { env: { PATH: path, QRGATE_NO_SYSTEM_INSTALL: '1' } }).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(result.code).toBe(1);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('npm test needs redis-server, redis-cli, not found on PATH');
    expect(lines[0]).toContain('QRGATE_REDIS_SERVER');
    expect(lines[0]).toMatch(/install: .*redis-server/);
  });

  it('exits 0 and prints nothing when every tool is found', async () => {
    const path = `${pathWith(ids)}:${dirname(process.execPath)}`;
    const { stdout } = await run(process.execPath, [CHECK], { env: { PATH: path, QRGATE_NO_SYSTEM_INSTALL: '1' } });
    expect(stdout).toBe('');
  });
});
