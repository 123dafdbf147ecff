/**
 * A private Apache httpd with mod_auth_openidc protecting `/protected/`: a relying party written by someone
 * else, from Debian's packages, configured only with what any site would put in its vhost. It runs in the
 * foreground as a tracked child on its own port, with its own config and files in a temporary directory,
 * and `stop()` ends it. The protected page echoes the claims it received as response headers.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTracked, waitUntilAnswers, type Spawned } from './app-process.js';
import { apacheModulesDir, requireTool } from './test-tools.js';

export interface ApacheRpOptions {
  port: number;
  clientId: string;
  clientSecret: string;
  /** The provider's discovery document (`OIDCProviderMetadataURL`). */
  metadataUrl: string;
  scope?: string;
}

export interface ApacheRp {
  readonly url: string;
  /** Where the provider must send the browser back (`OIDCRedirectURI`). */
  readonly redirectUri: string;
  /** Apache's error log so far (for a failing test's message). */
  errorLog(): string;
  stop(): Promise<void>;
}

/** The redirect URI an Apache RP on `port` registers. */
export const apacheRedirectUri = (port: number): string => `http://127.0.0.1:${port}/protected/redirect_uri`;

export async function startApacheRp(options: ApacheRpOptions): Promise<ApacheRp> {
  const apache2 = requireTool('apache2');
  const modules = apacheModulesDir(apache2);
  const dir = mkdtempSync(join(tmpdir(), 'qrgate-apache-'));
  // Apache's workers drop root for another user: they must be able to read the files.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'htdocs/protected'), { recursive: true });
  mkdirSync(join(dir, 'logs'));
  writeFileSync(join(dir, 'htdocs/index.html'), 'public\n');
  writeFileSync(join(dir, 'htdocs/protected/index.html'), 'protected\n');
  const url = `http://127.0.0.1:${options.port}`;
  const redirectUri = apacheRedirectUri(options.port);
  const load = (name: string, file: string): string => `LoadModule ${name} ${join(modules, file)}`;
  const config = [
    `ServerRoot "${dir}"`,
    `PidFile "${join(dir, 'logs/httpd.pid')}"`,
    `Mutex file:${join(dir, 'logs')} default`,
    `Listen 127.0.0.1:${options.port}`,
    'ServerName 127.0.0.1',
    load('mpm_event_module', 'mod_mpm_event.so'),
    load('authz_core_module', 'mod_authz_core.so'),
    load('authn_core_module', 'mod_authn_core.so'),
    load('authz_user_module', 'mod_authz_user.so'),
    load('auth_openidc_module', 'mod_auth_openidc.so'),
    load('headers_module', 'mod_headers.so'),
    load('dir_module', 'mod_dir.so'),
    `ErrorLog "${join(dir, 'logs/error.log')}"`,
    'LogLevel warn auth_openidc:info',
    `DocumentRoot "${join(dir, 'htdocs')}"`,
    'DirectoryIndex index.html',
    `OIDCProviderMetadataURL ${options.metadataUrl}`,
    `OIDCClientID ${options.clientId}`,
    `OIDCClientSecret ${options.clientSecret}`,
    `OIDCRedirectURI ${redirectUri}`,
    'OIDCCryptoPassphrase qrgate-test-passphrase-0123456789',
    `OIDCScope "${options.scope ?? 'openid unionid'}"`,
    'OIDCPKCEMethod S256',
    'OIDCSessionType client-cookie',
    '<Location /protected>',
    '  AuthType openid-connect',
    '  Require valid-user',
    '  Header always set X-OIDC-Sub "%{OIDC_CLAIM_sub}e"',
    '  Header always set X-OIDC-Amr "%{OIDC_CLAIM_amr}e"',
    '  Header always set X-OIDC-Unionid "%{OIDC_CLAIM_unionid}e"',
    '</Location>',
    '',
  ].join('\n');
  writeFileSync(join(dir, 'httpd.conf'), config);
  const spawned: Spawned = spawnTracked(apache2, ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], { PATH: process.env.PATH ?? '' });
  const errorLog = (): string => {
    try {
      return readFileSync(join(dir, 'logs/error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitUntilAnswers(spawned, 'apache2', `${url}/`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    redirectUri,
    errorLog,
    async stop() {
      await spawned.stop('SIGTERM', 10_000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
