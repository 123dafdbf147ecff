/**
 * One version for the product: the root package, the @qrgate/client package, the OpenAPI document and the
 * newest CHANGELOG entry move together (the bump policy in the README).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPENAPI_DOCUMENT } from '../../libs/protocol/index.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const version = (JSON.parse(read('package.json')) as { version: string }).version;

describe('versions', () => {
  it('is a semantic version', () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('is the version of @qrgate/client and of the OpenAPI document', () => {
    expect((JSON.parse(read('libs/client/package.json')) as { version: string }).version).toBe(version);
    expect(OPENAPI_DOCUMENT.info.version).toBe(version);
  });

  it('is the newest released entry of CHANGELOG.md', () => {
    const released = [...read('CHANGELOG.md').matchAll(/^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$/gm)].map((m) => m[1]);
    expect(released[0]).toBe(version);
  });
});
