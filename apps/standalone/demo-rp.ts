/**
 * The demo's relying party at `/demo-rp/`: a small site that knows nothing of qrgate but its issuer URL and
 * signs in through `/oidc` with openid-client (discovery, PKCE S256, state, nonce, code exchange, ID token and
 * userinfo checks), then shows the claims and offers RP-initiated logout. Only `npm start` serves it, so a
 * newcomer sees the whole OpenID Connect flow with no setup. State lives in this process's memory.
 */
import { randomBytes } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import * as client from 'openid-client';
import type { OidcClient } from '../../libs/oidc/index.js';

export const DEMO_RP_PATH = '/demo-rp';
export const DEMO_RP_CLIENT_ID = 'qrgate-demo-rp';

export interface DemoRp {
  /** The client to register with the provider. */
  readonly client: OidcClient;
  /** Serves everything under `/demo-rp`. */
  readonly app: Koa;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const page = (body: string): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Demo site</title>` +
  `<style>:root{color-scheme:light dark}body{font:16px/1.5 system-ui,sans-serif;max-width:640px;margin:40px auto;padding:0 16px}a.button{display:inline-block;padding:10px 16px;border-radius:10px;background:#07c160;color:#fff;text-decoration:none}pre{white-space:pre-wrap;word-break:break-all;background:rgba(127,127,127,.15);padding:12px;border-radius:8px}</style></head>` +
  `<body><h1>Demo site</h1>${body}</body></html>`;

/** The demo relying party of a standalone reachable at `baseUrl`, whose provider's issuer is `issuer`. */
export function createDemoRp(baseUrl: string, issuer: string): DemoRp {
  const secret = randomBytes(32).toString('base64url');
  const redirectUri = `${baseUrl}${DEMO_RP_PATH}/callback`;
  const home = `${baseUrl}${DEMO_RP_PATH}/`;
  const registered: OidcClient = {
    client_id: DEMO_RP_CLIENT_ID,
    client_secret: secret,
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [home],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  };
  let discovered: Promise<client.Configuration> | undefined;
  const configuration = (): Promise<client.Configuration> =>
    (discovered ??= client
      .discovery(
        new URL(issuer),
        DEMO_RP_CLIENT_ID,
        secret,
        undefined,
        issuer.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : {},
      )
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      }));
  const flows = new Map<string, { verifier: string; state: string; nonce: string }>();
  const sessions = new Map<string, { claims: Record<string, unknown>; userinfo: Record<string, unknown>; idToken: string }>();
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, path: DEMO_RP_PATH, overwrite: true };

  const app = new Koa();
  const router = new Router({ prefix: DEMO_RP_PATH });
  router.get('/', (ctx) => {
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    const session = sessions.get(ctx.cookies.get('demo_rp_session') ?? '');
    ctx.body =
      session === undefined
        ? page(
            `<p>This page is a separate website that signs in with OpenID Connect at <code>${escapeHtml(issuer)}</code>.</p><p><a class="button" id="demo-rp-sign-in" href="${DEMO_RP_PATH}/login">Sign in with WeChat</a></p>`,
          )
        : page(
            `<p id="demo-rp-signed-in">Signed in as <code id="demo-rp-sub">${escapeHtml(String(session.claims.sub))}</code>.</p>` +
              `<h2>ID token claims</h2><pre id="demo-rp-claims">${escapeHtml(JSON.stringify(session.claims, null, 2))}</pre>` +
              `<h2>userinfo</h2><pre id="demo-rp-userinfo">${escapeHtml(JSON.stringify(session.userinfo, null, 2))}</pre>` +
              `<p><a class="button" id="demo-rp-sign-out" href="${DEMO_RP_PATH}/logout">Sign out</a></p>`,
          );
  });
  router.get('/login', async (ctx) => {
    const config = await configuration();
    const flow = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() };
    const id = randomBytes(16).toString('base64url');
    flows.set(id, flow);
    setTimeout(() => flows.delete(id), 15 * 60_000).unref();
    ctx.cookies.set('demo_rp_flow', id, { ...cookieOptions, maxAge: 15 * 60_000 });
    ctx.redirect(
      client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid unionid',
        code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
        code_challenge_method: 'S256',
        state: flow.state,
        nonce: flow.nonce,
      }).href,
    );
  });
  router.get('/callback', async (ctx) => {
    const id = ctx.cookies.get('demo_rp_flow') ?? '';
    const flow = flows.get(id);
    flows.delete(id);
    ctx.type = 'html';
    if (flow === undefined) {
      ctx.status = 400;
      ctx.body = page(`<p>This sign-in is unknown or was already used. <a href="${DEMO_RP_PATH}/">Start again</a>.</p>`);
      return;
    }
    const config = await configuration();
    const current = new URL(`${redirectUri}${ctx.querystring === '' ? '' : `?${ctx.querystring}`}`);
    try {
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
      });
      const claims = tokens.claims()!;
      const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      const sid = randomBytes(16).toString('base64url');
      sessions.set(sid, { claims: { ...claims }, userinfo: { ...userinfo }, idToken: tokens.id_token! });
      ctx.cookies.set('demo_rp_session', sid, { ...cookieOptions, maxAge: 3600_000 });
      ctx.redirect(home);
    } catch (err) {
      ctx.status = 400;
      const message = err instanceof Error ? err.message : String(err);
      ctx.body = page(`<p>Sign-in failed: ${escapeHtml(message)}. <a href="${DEMO_RP_PATH}/">Start again</a>.</p>`);
    }
  });
  router.get('/logout', async (ctx) => {
    const sid = ctx.cookies.get('demo_rp_session') ?? '';
    const session = sessions.get(sid);
    sessions.delete(sid);
    ctx.cookies.set('demo_rp_session', null, cookieOptions);
    if (session === undefined) return ctx.redirect(home);
    const config = await configuration();
    ctx.redirect(client.buildEndSessionUrl(config, { id_token_hint: session.idToken, post_logout_redirect_uri: home }).href);
  });
  app.use(router.routes());
  app.use(router.allowedMethods());
  return { client: registered, app };
}
