/**
 * The relying parties qrgate's OpenID Connect provider knows, read from OIDC_CLIENTS or OIDC_CLIENTS_FILE.
 * There is no dynamic registration: this list is the whole truth, validated at start-up so a typo stops the
 * process with a message naming the client and the field instead of surfacing as a failed login later.
 */
import { z } from 'zod';

/** One registered client, in oidc-provider's (RFC 7591) field names. */
export interface OidcClient {
  client_id: string;
  /** Absent for public clients (`token_endpoint_auth_method: "none"`), which must use PKCE. */
  client_secret?: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post' | 'none';
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  /** `authorization_code`, optionally `refresh_token`. Default `["authorization_code"]`. */
  grant_types: Array<'authorization_code' | 'refresh_token'>;
  response_types: ['code'];
  /**
   * OpenID Back-Channel Logout 1.0: where the provider POSTs a `logout_token` when one of this client's
   * sessions ends (signed out in qrgate, from the phone, or at the provider's logout). Absent: not told.
   */
  backchannel_logout_uri?: string;
  /** Always true with a `backchannel_logout_uri`: ID and logout tokens carry `sid`, so the client knows which session ended. */
  backchannel_logout_session_required?: boolean;
}

/** Thrown for an invalid client list; each line names the client (by id or position) and the field. */
export class OidcClientsError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid OpenID Connect clients:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'OidcClientsError';
  }
}

/** A redirect target: absolute, no fragment (RFC 6749 §3.1.2), http(s) or a native app's private scheme. */
const redirectUri = z
  .string()
  .refine((u) => URL.canParse(u), 'expected an absolute URL')
  .refine((u) => !URL.canParse(u) || new URL(u).hash === '', 'must not contain a #fragment')
  .refine((u) => !URL.canParse(u) || !/^(javascript|data|vbscript|file):$/i.test(new URL(u).protocol), 'scheme not allowed');

const clientSchema = z
  .object({
    client_id: z.string().regex(/^[A-Za-z0-9._~-]{1,128}$/, 'expected 1-128 letters, digits or ._~-'),
    client_secret: z.string().min(32, 'must be at least 32 characters').max(512).optional(),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
    redirect_uris: z.array(redirectUri).min(1, 'list at least one redirect URI'),
    post_logout_redirect_uris: z.array(redirectUri).default([]),
    grant_types: z
      .array(z.enum(['authorization_code', 'refresh_token'], 'allowed: authorization_code, refresh_token (no implicit flow)'))
      .min(1)
      .refine((g) => g.includes('authorization_code'), 'must include authorization_code')
      .default(['authorization_code']),
    backchannel_logout_uri: redirectUri.optional(),
  })
  .strict();

/** Parse and validate the JSON text of OIDC_CLIENTS (or of the OIDC_CLIENTS_FILE). `source` names it in errors. */
export function parseOidcClients(json: string, source = 'OIDC_CLIENTS'): OidcClient[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new OidcClientsError([`${source}: not valid JSON (expected an array of clients)`]);
  }
  if (!Array.isArray(raw)) throw new OidcClientsError([`${source}: expected a JSON array of clients`]);
  const issues: string[] = [];
  const clients: OidcClient[] = [];
  raw.forEach((entry: unknown, index) => {
    const id = typeof (entry as { client_id?: unknown })?.client_id === 'string' ? (entry as { client_id: string }).client_id : undefined;
    const name = id !== undefined ? `client "${id.slice(0, 64)}"` : `client #${index + 1}`;
    const parsed = clientSchema.safeParse(entry);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const field = issue.path.length > 0 ? issue.path.map(String).join('.') : '(client)';
        issues.push(`${source}: ${name}, ${field}: ${issue.message}`);
      }
      return;
    }
    const c = parsed.data;
    const method = c.token_endpoint_auth_method ?? (c.client_secret === undefined ? undefined : 'client_secret_basic');
    if (method === undefined) {
      issues.push(`${source}: ${name}, client_secret: required unless token_endpoint_auth_method is "none" (a public client)`);
      return;
    }
    if (method === 'none' && c.client_secret !== undefined) {
      issues.push(`${source}: ${name}, client_secret: a public client (token_endpoint_auth_method "none") has no secret`);
      return;
    }
    if (method !== 'none' && c.client_secret === undefined) {
      issues.push(`${source}: ${name}, client_secret: required with token_endpoint_auth_method "${method}"`);
      return;
    }
    if (clients.some((other) => other.client_id === c.client_id)) {
      issues.push(`${source}: ${name}, client_id: registered twice`);
      return;
    }
    clients.push({
      client_id: c.client_id,
      ...(c.client_secret !== undefined ? { client_secret: c.client_secret } : {}),
      token_endpoint_auth_method: method,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris,
      grant_types: [...new Set(c.grant_types)],
      response_types: ['code'],
      ...(c.backchannel_logout_uri !== undefined
        ? { backchannel_logout_uri: c.backchannel_logout_uri, backchannel_logout_session_required: true }
        : {}),
    });
  });
  if (issues.length > 0) throw new OidcClientsError(issues);
  return clients;
}
