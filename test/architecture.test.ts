// The layer rules (STYLE.md §2, issue 14 item 8), checked on every `npm test` instead of kept by discipline:
// libs never import apps; apps never import apps, except apps/standalone through their index.ts; the pure core
// (libs/protocol, libs/ticket) imports no I/O and no Node built-in; browser code (libs/client, libs/protocol)
// stays browser-safe. Imports are read with es-module-lexer (no TypeScript compiler), type-only ones included:
// a type import upward is still an upward dependency. A second suite feeds the same checker a set of files
// that break every rule, so a checker that silently finds nothing fails too.
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix } from 'node:path';
import { init, parse } from 'es-module-lexer';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/app-process.js';

interface SourceFile {
  /** Repository-relative path with forward slashes, e.g. `libs/ticket/ticket.ts`. */
  path: string;
  source: string;
}

/** Pure core: what each part may import besides its own files. Anything else is a violation. */
const PURE_CORE: Record<string, { libs: string[]; packages: string[] }> = {
  'libs/protocol': { libs: [], packages: ['zod'] },
  // node:crypto is computation (hashes, HMAC, random ids), not I/O; libs/ticket runs only on the server.
  'libs/ticket': { libs: ['libs/protocol'], packages: ['zod', 'bowser', 'node:crypto'] },
};

/** Browser code: what it may import besides browser code. Bundled by scripts/bundle-client.mjs. */
const BROWSER_PARTS = ['libs/client', 'libs/protocol'];
const BROWSER_PACKAGES = ['socket.io-client', 'zod'];

/**
 * Known breaks of the rules, each to be removed when fixed (the suite fails when an entry no longer matches,
 * so the list cannot outlive the debt).
 */
const KNOWN_DEBT: string[] = [];

const NODE_BUILTINS = new Set(builtinModules);

/** `apps/gateway` for `apps/gateway/x.ts`; undefined for files outside apps/ and libs/. */
function partOf(path: string): string | undefined {
  const [top, name] = path.split('/');
  return (top === 'apps' || top === 'libs') && name !== undefined ? `${top}/${name}` : undefined;
}

/** The package a bare specifier names (`@koa/router`, `socket.io-client`), or `node:fs` for `fs/promises`. */
function packageOf(specifier: string): string {
  if (specifier.startsWith('node:')) return `node:${specifier.slice('node:'.length).split('/')[0]}`;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
  return NODE_BUILTINS.has(name) ? `node:${name}` : name;
}

type Target = { kind: 'file'; path: string } | { kind: 'package'; name: string };

function importsOf(file: SourceFile): Target[] {
  const [imports] = parse(file.source, file.path);
  return imports.flatMap((entry): Target[] => {
    const specifier = entry.n;
    if (specifier === undefined) return []; // a dynamic import of a computed string: nothing to check statically
    if (!specifier.startsWith('.')) return [{ kind: 'package', name: packageOf(specifier) }];
    const resolved = posix.normalize(posix.join(posix.dirname(file.path), specifier)).replace(/\.js$/, '.ts');
    return [{ kind: 'file', path: resolved }];
  });
}

/** Every break of the layer rules in `files`, one readable line each. */
function layerViolations(files: SourceFile[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const from = partOf(file.path);
    if (from === undefined) continue;
    for (const target of importsOf(file)) {
      const to = target.kind === 'file' ? partOf(target.path) : undefined;
      const what = target.kind === 'file' ? target.path : target.name;
      if (from.startsWith('libs/') && to?.startsWith('apps/')) found.push(`${file.path} imports ${what}: libs never import apps`);
      if (from.startsWith('apps/') && to?.startsWith('apps/') && to !== from) {
        const throughIndex = target.kind === 'file' && target.path === `${to}/index.ts`;
        if (from !== 'apps/standalone') found.push(`${file.path} imports ${what}: apps never import apps`);
        else if (!throughIndex) found.push(`${file.path} imports ${what}: apps/standalone imports apps through their index.ts`);
      }
      const pure = PURE_CORE[from];
      if (pure !== undefined) {
        if (target.kind === 'package' && !pure.packages.includes(target.name)) {
          found.push(`${file.path} imports ${what}, outside the pure core’s allowance`);
        }
        if (to !== undefined && to !== from && !pure.libs.includes(to)) {
          found.push(`${file.path} imports ${what}: ${from} may import only ${pure.libs.join(', ') || 'itself'}`);
        }
      }
      if (BROWSER_PARTS.includes(from)) {
        if (target.kind === 'package' && !BROWSER_PACKAGES.includes(target.name)) {
          found.push(`${file.path} imports ${what}: browser code imports only ${BROWSER_PACKAGES.join(', ')}`);
        }
        if (target.kind === 'file' && (to === undefined || !BROWSER_PARTS.includes(to))) {
          found.push(`${file.path} imports ${what}: browser code imports only browser code`);
        }
      }
    }
  }
  return found;
}

function sourcesUnder(dir: string): SourceFile[] {
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .map((name) => {
      const path = posix.join(dir, name.split('\\').join('/'));
      return { path, source: readFileSync(join(REPO_ROOT, path), 'utf8') };
    });
}

beforeAll(async () => {
  await init;
});

describe('layer rules of apps/ and libs/', () => {
  it('hold, apart from the listed known debt', () => {
    const files = [...sourcesUnder('apps'), ...sourcesUnder('libs')];
    expect(files.length).toBeGreaterThan(50);
    expect(layerViolations(files)).toEqual(KNOWN_DEBT);
  });
});

describe('the layer checker', () => {
  it('reports each kind of violation', () => {
    const file = (path: string, ...lines: string[]): SourceFile => ({ path, source: `${lines.join('\n')}\n` });
    const broken = [
      file('libs/engine/x.ts', "import { createGateway } from '../../apps/gateway/index.js';"),
      file('libs/login/y.ts', "import type { Standalone } from '../../apps/standalone/standalone.js';"),
      file('apps/webhook/x.ts', "import { createGateway } from '../gateway/index.js';"),
      file('apps/standalone/x.ts', "export { createWebhook } from '../webhook/webhook.js';"),
      file('libs/protocol/x.ts', "import { Redis } from 'ioredis';", "import { a } from '../ticket/ticket.js';"),
      file('libs/ticket/x.ts', "import net from 'net';", "import { readFile } from 'node:fs/promises';"),
      file('libs/ticket/y.ts', "import type { Engine } from '../engine/index.js';"),
      file('libs/client/x.ts', "import pino from 'pino';", "import { MESSAGES } from '../config/index.js';"),
      // Allowed: standalone through an index, a type import inside the pure core, text that only looks like one.
      file('apps/standalone/ok.ts', "import { createGateway } from '../gateway/index.js';"),
      file('libs/ticket/ok.ts', "import type { LoginUser } from '../protocol/index.js';", "import { randomBytes } from 'node:crypto';"),
      file('apps/gateway/ok.ts', 'const page = `<script type="module">import { x } from \'../webhook/a.js\';</script>`;'),
    ];
    expect(layerViolations(broken)).toEqual([
      'libs/engine/x.ts imports apps/gateway/index.ts: libs never import apps',
      'libs/login/y.ts imports apps/standalone/standalone.ts: libs never import apps',
      'apps/webhook/x.ts imports apps/gateway/index.ts: apps never import apps',
      'apps/standalone/x.ts imports apps/webhook/webhook.ts: apps/standalone imports apps through their index.ts',
      'libs/protocol/x.ts imports ioredis, outside the pure core’s allowance',
      'libs/protocol/x.ts imports ioredis: browser code imports only socket.io-client, zod',
      'libs/protocol/x.ts imports libs/ticket/ticket.ts: libs/protocol may import only itself',
      'libs/protocol/x.ts imports libs/ticket/ticket.ts: browser code imports only browser code',
      'libs/ticket/x.ts imports node:net, outside the pure core’s allowance',
      'libs/ticket/x.ts imports node:fs, outside the pure core’s allowance',
      'libs/ticket/y.ts imports libs/engine/index.ts: libs/ticket may import only libs/protocol',
      'libs/client/x.ts imports pino: browser code imports only socket.io-client, zod',
      'libs/client/x.ts imports libs/config/index.ts: browser code imports only browser code',
    ]);
  });
});
