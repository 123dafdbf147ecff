/**
 * The provider's configuration at start-up: clients from OIDC_CLIENTS or OIDC_CLIENTS_FILE, validated with
 * errors that name the client and the field; no clients = off; the key rules (OIDC_SIGNING_KEY, else an RSA
 * SESSION_SIGNING_KEY, else refuse outside the demo; the previous key published; cookie keys from SESSION_SECRET).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../libs/config/index.js';
import { oidcCookieKeys, oidcSettings, parseOidcClients, OidcClientsError } from '../../libs/oidc/index.js';
import { rsaKeyPem } from '../support/oidc-rp.js';

const BASE = { PUBLIC_URL: 'https://login.example.com', SESSION_SECRET: 'a-session-secret-of-enough-length' };
const SHOP = { client_id: 'shop', client_secret: 's'.repeat(40), redirect_uris: ['https://shop.example.com/cb'] };
const issuesOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof OidcClientsError) return err.issues;
    throw err;
  }
  throw new Error('expected a configuration error');
};

describe('OIDC clients', () => {
  it('accepts confidential and public clients, filling the defaults', () => {
    const clients = parseOidcClients(
      JSON.stringify([
        SHOP,
        {
          client_id: 'spa',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['http://127.0.0.1:5173/cb'],
          grant_types: ['authorization_code', 'refresh_token'],
        },
      ]),
    );
    expect(clients).toEqual([
      {
        ...SHOP,
        token_endpoint_auth_method: 'client_secret_basic',
        post_logout_redirect_uris: [],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
      {
        client_id: 'spa',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1:5173/cb'],
        post_logout_redirect_uris: [],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ]);
  });

  it('names the client and the field of every mistake', () => {
    const issues = issuesOf(() =>
      parseOidcClients(
        JSON.stringify([
          { ...SHOP, redirect_uris: ['/relative', 'https://x.example/cb#frag'] },
          { client_id: 'nosecret', redirect_uris: ['https://a.example/cb'] },
          { client_id: 'short', client_secret: 'tooshort', redirect_uris: ['https://a.example/cb'] },
          { client_id: 'implicit', client_secret: 's'.repeat(40), redirect_uris: ['https://a.example/cb'], grant_types: ['implicit'] },
          {
            client_id: 'public',
            token_endpoint_auth_method: 'none',
            client_secret: 's'.repeat(40),
            redirect_uris: ['https://a.example/cb'],
          },
          { client_secret: 's'.repeat(40), redirect_uris: [] },
          { ...SHOP, extra: true },
        ]),
      ),
    );
    expect(issues).toEqual([
      'OIDC_CLIENTS: client "shop", redirect_uris.0: expected an absolute URL',
      'OIDC_CLIENTS: client "shop", redirect_uris.1: must not contain a #fragment',
      'OIDC_CLIENTS: client "nosecret", client_secret: required unless token_endpoint_auth_method is "none" (a public client)',
      'OIDC_CLIENTS: client "short", client_secret: must be at least 32 characters',
      expect.stringMatching(/^OIDC_CLIENTS: client "implicit", grant_types\.0: allowed: authorization_code, refresh_token/),
      'OIDC_CLIENTS: client "public", client_secret: a public client (token_endpoint_auth_method "none") has no secret',
      expect.stringMatching(/^OIDC_CLIENTS: client #6, client_id: /),
      'OIDC_CLIENTS: client #6, redirect_uris: list at least one redirect URI',
      expect.stringMatching(/^OIDC_CLIENTS: client "shop", \(client\): .*extra/),
    ]);
    expect(issuesOf(() => parseOidcClients('{"client_id":"x"}'))).toEqual(['OIDC_CLIENTS: expected a JSON array of clients']);
    expect(issuesOf(() => parseOidcClients('[{'))).toEqual(['OIDC_CLIENTS: not valid JSON (expected an array of clients)']);
    expect(issuesOf(() => parseOidcClients(JSON.stringify([SHOP, SHOP])))).toEqual([
      'OIDC_CLIENTS: client "shop", client_id: registered twice',
    ]);
  });
});

describe('OIDC settings', () => {
  const key = rsaKeyPem();

  it('is off without clients', () => {
    expect(oidcSettings(loadConfig({ ...BASE }))).toBeNull();
  });

  it('reads the clients from OIDC_CLIENTS_FILE, naming the file in errors, and refuses both sources at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'qrgate-oidc-'));
    try {
      const file = join(dir, 'clients.json');
      writeFileSync(file, JSON.stringify([SHOP]));
      expect(
        oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS_FILE: file, OIDC_SIGNING_KEY: key }))?.clients.map((c) => c.client_id),
      ).toEqual(['shop']);
      writeFileSync(file, JSON.stringify([{ ...SHOP, redirect_uris: [] }]));
      expect(issuesOf(() => oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS_FILE: file, OIDC_SIGNING_KEY: key })))).toEqual([
        `OIDC_CLIENTS_FILE (${file}): client "shop", redirect_uris: list at least one redirect URI`,
      ]);
      expect(issuesOf(() => oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS_FILE: join(dir, 'missing.json') })))).toEqual([
        `OIDC_CLIENTS_FILE: cannot read ${join(dir, 'missing.json')} (ENOENT)`,
      ]);
      expect(issuesOf(() => oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS: '[]', OIDC_CLIENTS_FILE: file })))[0]).toMatch(/not both/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses clients without a shared signing key, PUBLIC_URL or SESSION_SECRET outside the demo', () => {
    const clients = JSON.stringify([SHOP]);
    const issues = issuesOf(() => oidcSettings(loadConfig({ OIDC_CLIENTS: clients })));
    expect(issues.map((i) => i.split(':')[0])).toEqual(['PUBLIC_URL', 'SESSION_SECRET', 'OIDC_SIGNING_KEY']);
    // An EC session key cannot sign RS256: it is not used, and the provider still refuses.
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(issuesOf(() => oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS: clients, SESSION_SIGNING_KEY: ec })))[0]).toMatch(
      /^OIDC_SIGNING_KEY: required/,
    );
    expect(issuesOf(() => oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS: clients, OIDC_SIGNING_KEY: ec })))[0]).toMatch(
      /^OIDC_SIGNING_KEY: expected an RSA private key/,
    );
    // The demo generates one.
    const demo = oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS: clients }), { demo: true })!;
    expect(demo.generatedKey).toBe(true);
    expect(demo.signingKeys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
  });

  it('defaults to an RSA SESSION_SIGNING_KEY, publishes OIDC_SIGNING_KEY_PREVIOUS, and derives the cookie keys', () => {
    const clients = JSON.stringify([SHOP]);
    const fromSession = oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS: clients, SESSION_SIGNING_KEY: key }))!;
    const explicit = oidcSettings(loadConfig({ ...BASE, OIDC_CLIENTS: clients, OIDC_SIGNING_KEY: key }))!;
    expect(fromSession.generatedKey).toBe(false);
    expect(fromSession.signingKeys.map((k) => k.kid)).toEqual(explicit.signingKeys.map((k) => k.kid));
    expect(fromSession.issuer).toBe('https://login.example.com/oidc');
    const previous = rsaKeyPem();
    const rotating = oidcSettings(
      loadConfig({ ...BASE, OIDC_CLIENTS: clients, OIDC_SIGNING_KEY: key, OIDC_SIGNING_KEY_PREVIOUS: previous }),
    )!;
    expect(rotating.signingKeys).toHaveLength(2);
    expect(rotating.signingKeys[0]!.kid).toBe(explicit.signingKeys[0]!.kid);
    // Every gateway with the same SESSION_SECRET signs the same cookies; another secret gives other keys.
    expect(rotating.cookieKeys).toEqual(oidcCookieKeys(BASE.SESSION_SECRET));
    expect(oidcCookieKeys('another-session-secret-000')).not.toEqual(rotating.cookieKeys);
    expect(rotating.cookieKeys[0]).not.toContain(BASE.SESSION_SECRET);
  });
});
