/**
 * The system programs the suite runs for real (redis-server, haproxy, nginx, chromium, apache2 with
 * mod_auth_openidc): where each one is
 * found, and the one check that runs before any test (`npm test`'s `pretest`: `node test/support/test-tools.ts`).
 *
 * A tool is the program its variable names (`QRGATE_REDIS_SERVER`, …) or else the first match on `PATH`,
 * never a fixed path, so the suite runs wherever the distribution or the developer put them. The check lists
 * everything missing at once; on Debian or Ubuntu as root it apt-installs the packages (printing them;
 * `QRGATE_NO_SYSTEM_INSTALL=1` opts out), elsewhere it stops with one line naming the tools and the command
 * that installs them. This file imports only Node built-ins: the check runs before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A program the suite needs. */
export interface TestTool {
  /** What the messages call it. */
  name: string;
  /** Environment variable that overrides the lookup with a path to the program. */
  variable: string;
  /** Names tried on PATH, in order. */
  commands: readonly string[];
  /** Debian/Ubuntu package that ships it. */
  aptPackage: string;
  /** Homebrew formula that ships it (macOS hint only). */
  brewFormula: string;
  /** More Debian/Ubuntu packages the tests need with it (an Apache module). */
  extraAptPackages?: readonly string[];
}

export const TEST_TOOLS = {
  redisServer: {
    name: 'redis-server',
    variable: 'QRGATE_REDIS_SERVER',
    commands: ['redis-server'],
    aptPackage: 'redis-server',
    brewFormula: 'redis',
  },
  redisCli: {
    name: 'redis-cli',
    variable: 'QRGATE_REDIS_CLI',
    commands: ['redis-cli'],
    aptPackage: 'redis-tools',
    brewFormula: 'redis',
  },
  haproxy: { name: 'haproxy', variable: 'QRGATE_HAPROXY', commands: ['haproxy'], aptPackage: 'haproxy', brewFormula: 'haproxy' },
  nginx: { name: 'nginx', variable: 'QRGATE_NGINX', commands: ['nginx'], aptPackage: 'nginx', brewFormula: 'nginx' },
  chromium: {
    name: 'chromium',
    variable: 'QRGATE_CHROMIUM',
    commands: ['chromium', 'chromium-browser'],
    aptPackage: 'chromium',
    brewFormula: '--cask chromium',
  },
  // The OpenID Connect tests protect a page with Apache's mod_auth_openidc, a relying party that is not ours.
  apache2: {
    name: 'apache2',
    variable: 'QRGATE_APACHE2',
    commands: ['apache2', 'httpd'],
    aptPackage: 'apache2',
    brewFormula: 'httpd',
    extraAptPackages: ['libapache2-mod-auth-openidc'],
  },
} as const satisfies Record<string, TestTool>;

/**
 * Apache's module directory for the `apache2` at `binary`: QRGATE_APACHE_MODULES, or Debian's layout beside the
 * real binary (`/usr/sbin/apache2` → `/usr/lib/apache2/modules`).
 */
export function apacheModulesDir(binary: string, env: NodeJS.ProcessEnv = process.env): string {
  const given = env.QRGATE_APACHE_MODULES;
  if (given !== undefined && given !== '') return resolve(given);
  return join(dirname(dirname(realpathSync(binary))), 'lib/apache2/modules');
}

export type TestToolId = keyof typeof TEST_TOOLS;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `tool` is, or undefined. A variable that is set but names no executable counts as missing. */
export function locateTool(id: TestToolId, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const tool: TestTool = TEST_TOOLS[id];
  const override = env[tool.variable];
  if (override !== undefined && override !== '') return isExecutable(override) ? resolve(override) : undefined;
  // redis-cli belongs with the redis-server it talks to: take the one beside QRGATE_REDIS_SERVER first.
  const server = env[TEST_TOOLS.redisServer.variable];
  if (id === 'redisCli' && server !== undefined && server !== '') {
    const sibling = join(dirname(server), 'redis-cli');
    if (isExecutable(sibling)) return resolve(sibling);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    for (const command of tool.commands) {
      const candidate = join(dir, command);
      // apache2 counts only with mod_auth_openidc installed beside it.
      if (isExecutable(candidate) && (id !== 'apache2' || existsSync(join(apacheModulesDir(candidate, env), 'mod_auth_openidc.so')))) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** Path of a tool a test is about to spawn; throws the check's hint when it is missing (e.g. vitest run directly). */
export function requireTool(id: TestToolId): string {
  const path = locateTool(id);
  if (path === undefined) {
    const tool: TestTool = TEST_TOOLS[id];
    throw new Error(`${tool.name} not found on PATH (or set ${tool.variable}); run \`npm test\` once to install it`);
  }
  return path;
}

/** Every tool the suite needs that cannot be found. */
export function missingTools(env: NodeJS.ProcessEnv = process.env): TestTool[] {
  return (Object.keys(TEST_TOOLS) as TestToolId[]).filter((id) => locateTool(id, env) === undefined).map((id) => TEST_TOOLS[id]);
}

function isDebianLike(): boolean {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(release);
  } catch {
    return false;
  }
}

const unique = (items: string[]): string[] => [...new Set(items)];

/** The one command that installs `tools` on this kind of machine. */
export function installCommand(tools: readonly TestTool[], platform = process.platform, debianLike = isDebianLike()): string {
  if (platform === 'darwin') return `brew install ${unique(tools.map((t) => t.brewFormula)).join(' ')}`;
  const packages = unique(tools.flatMap((t) => [t.aptPackage, ...(t.extraAptPackages ?? [])])).join(' ');
  if (debianLike) return `sudo apt-get install -y ${packages}`;
  return `install ${unique(tools.map((t) => t.name)).join(' ')} with your package manager (Debian/Ubuntu: apt-get install -y ${packages})`;
}

/**
 * The pre-test check. Returns the process exit code: 0 when every tool is there (perhaps after installing).
 * `log` gets every line the check prints.
 */
export function checkTestTools(env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = console.log): number {
  const missing = missingTools(env);
  if (missing.length === 0) return 0;
  const names = missing.map((t) => t.name).join(', ');
  const variables = missing.map((t) => t.variable).join(', ');
  const canInstall = process.platform === 'linux' && isDebianLike() && process.getuid?.() === 0 && env.QRGATE_NO_SYSTEM_INSTALL !== '1';
  if (!canInstall) {
    log(`qrgate: npm test needs ${names}, not found on PATH (or set ${variables}); install: ${installCommand(missing)}`);
    return 1;
  }
  const packages = unique(missing.flatMap((t) => [t.aptPackage, ...(t.extraAptPackages ?? [])]));
  log(`qrgate: npm test needs ${names}; installing ${packages.join(' ')} with apt-get (QRGATE_NO_SYSTEM_INSTALL=1 skips this)`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...packages],
  ]) {
    const result = spawnSync('apt-get', args, { env: aptEnv, stdio: ['ignore', 'ignore', 'inherit'] });
    if (result.status !== 0) {
      log(
        `qrgate: apt-get ${args[0]} failed (${result.error?.message ?? `exit ${result.status}`}); install by hand: ${installCommand(missing)}`,
      );
      return 1;
    }
  }
  const still = missingTools(env);
  if (still.length > 0) {
    log(`qrgate: still missing after apt-get: ${still.map((t) => t.name).join(', ')} (set ${still.map((t) => t.variable).join(', ')})`);
    return 1;
  }
  log(`qrgate: installed ${packages.join(' ')}`);
  return 0;
}

// Run as a script (`node test/support/test-tools.ts`, Node's type stripping): the check itself.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = checkTestTools();
}
