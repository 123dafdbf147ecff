/**
 * The client bundles (`scripts/bundle-client.mjs`: the `@qrgate/client` package and the page's /client/qrgate.js)
 * ship source maps that name the original files without embedding their text: a map with `sourcesContent`
 * would carry a copy of every bundled dependency's sources, comments and all. Reads what `npm run build` wrote.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/app-process.js';

describe('client bundle source maps', () => {
  it.each([
    ['libs/client/dist/index.js.map', '../qr-login.ts'],
    ['dist/client/qrgate.js.map', '../../libs/client/qr-login.ts'],
  ])('%s names its sources and embeds none', async (file, ours) => {
    const map = JSON.parse(await readFile(join(REPO_ROOT, file), 'utf8')) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources).toContain(ours);
    expect(map.sourcesContent).toBeUndefined();
  });
});
