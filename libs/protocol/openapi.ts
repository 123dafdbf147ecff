/**
 * The OpenAPI 3.1 description of every HTTP endpoint qrgate's apps serve: the gateway (login page, code
 * exchange, keys, confirmation page, client bundle), the webhook (WeChat's server URL) and the WeChat
 * simulator (WeChat's API and the phone's JSON API), plus the probes every app has. The gateway serves it at
 * `GET /openapi.json`. Each operation is tagged with the app(s) that register it, and
 * test/protocol/openapi-drift.test.ts compares those tags with the routes the app factories really mount, so
 * the document cannot drift from the code. The Socket.IO namespace `/login` is not HTTP and is described in
 * events.ts. Plain data: this file imports only its schemas (openapi-schemas.ts).
 */
import { OPENAPI_SCHEMAS } from './openapi-schemas.js';

/** Route that serves this document. */
export const OPENAPI_ROUTE = '/openapi.json';

/** The apps whose routes the document describes; an operation's tags name those that mount it. */
export const OPENAPI_APP_TAGS = ['gateway', 'webhook', 'wechat-sim'] as const;
export type OpenApiAppTag = (typeof OPENAPI_APP_TAGS)[number];

/** The methods the document uses (lower case, as OpenAPI path items spell them). */
export type OpenApiMethod = 'get' | 'post' | 'delete' | 'options';

/** The slice of OpenAPI 3.1 this document uses: enough to walk operations and their tags. */
export interface OpenApiOperation {
  operationId: string;
  summary: string;
  description?: string;
  tags: OpenApiAppTag[];
  parameters?: readonly object[];
  requestBody?: object;
  responses: Record<string, object>;
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string; license: { name: string; identifier: string } };
  tags: readonly { name: OpenApiAppTag; description: string }[];
  paths: Record<string, Partial<Record<OpenApiMethod, OpenApiOperation>>>;
  components: { schemas: Record<string, object> };
}

const ALL_APPS: OpenApiAppTag[] = ['gateway', 'webhook', 'wechat-sim'];

const json = (schema: object): object => ({ content: { 'application/json': { schema } } });
const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });
const text = (description: string): object => ({ description, content: { 'text/plain': { schema: { type: 'string' } } } });
const html = (description: string): object => ({ description, content: { 'text/html': { schema: { type: 'string' } } } });
const queryParam = (name: string, description: string, required = true): object => ({
  name,
  in: 'query',
  required,
  description,
  schema: { type: 'string' },
});

/** WeChat answers 200 with `{ errcode, errmsg }` for every API failure; the simulator does the same. */
const wechatResult = (success: string, description: string): Record<string, object> => ({
  '200': { description, ...json({ oneOf: [ref(success), ref('WechatError')] }) },
});

/** The signature query WeChat puts on every call to the server URL (WECHAT.md §4). */
const SIGNED_QUERY = [
  queryParam('signature', 'SHA-1 of the sorted Token, timestamp and nonce'),
  queryParam('timestamp', 'Unix seconds; refused outside WEBHOOK_MAX_SKEW_SECONDS'),
  queryParam('nonce', 'Random string, remembered to refuse replays'),
];

const ACCESS_TOKEN = queryParam('access_token', 'Token from /cgi-bin/stable_token or /cgi-bin/token');

export const OPENAPI_DOCUMENT: OpenApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'qrgate',
    version: '0.1.0',
    description:
      'WeChat QR-code login gateway. Browsers talk Socket.IO on namespace /login (path /socket.io) to get a ticket ' +
      'and a one-time login code, then exchange the code here for a session JWT. In production the gateway and the ' +
      'webhook are separate processes; `npm start` serves all three apps on one port. With OIDC clients configured, the ' +
      'gateway is also an OpenID Connect provider at /oidc (issuer PUBLIC_URL + /oidc); its endpoints are described ' +
      'by /oidc/.well-known/openid-configuration, and only its login step (the QR page) is listed here.',
    license: { name: 'MIT', identifier: 'MIT' },
  },
  tags: [
    { name: 'gateway', description: 'apps/gateway: login page, code exchange, keys, confirmation page, client bundle' },
    { name: 'webhook', description: "apps/webhook: the Official Account's server URL" },
    { name: 'wechat-sim', description: "apps/wechat-sim: WeChat's API and a phone, for the demo and the tests" },
  ],
  paths: {
    '/healthz': {
      get: {
        operationId: 'healthz',
        summary: 'Liveness: the process answers',
        tags: ALL_APPS,
        responses: { '200': { description: '`ok` (the simulator answers `{ "ok": true }`)' } },
      },
    },
    '/readyz': {
      get: {
        operationId: 'readyz',
        summary: 'Readiness: the engine answers and the app is not draining',
        tags: ALL_APPS,
        responses: { '200': { description: '`ready`' }, '503': text('`draining` or `engine unreachable`') },
      },
    },
    // Prometheus metrics are not on this port: every app serves `GET /metrics` on its own METRICS_PORT only.
    '/': {
      get: {
        operationId: 'loginPage',
        summary: 'The login page: the QR code widget on the bundled client',
        tags: ['gateway'],
        parameters: [queryParam('lang', '`en` or `zh`; default from Accept-Language', false)],
        responses: { '200': html('The page, with a per-response CSP nonce') },
      },
    },
    '/auth/wechat': {
      get: {
        operationId: 'wechatLoginStart',
        summary: "In-WeChat login: a ticket bound to this browser (HttpOnly cookie), then WeChat's web authorization (snsapi_base)",
        tags: ['gateway'],
        parameters: [queryParam('redirect', 'Same-origin path to go to once signed in', false)],
        responses: {
          '302': { description: 'To {WECHAT_OAUTH_BASE}/connect/oauth2/authorize…#wechat_redirect' },
          '503': html('The store is unavailable'),
        },
      },
    },
    '/auth/wechat/callback': {
      get: {
        operationId: 'wechatLoginCallback',
        summary: 'In-WeChat login: state checked against the cookie, code exchanged, the browser signed in like a scan',
        tags: ['gateway'],
        parameters: [queryParam('state', 'The state sent to WeChat'), queryParam('code', 'Absent when the user refused', false)],
        responses: {
          '302': {
            description:
              "Signed in (session cookie set): to the same-origin redirect, else /; begun from an OpenID Connect interaction, to the provider's resume URL instead (no session cookie)",
          },
          '200': html('The user refused the authorization (no code)'),
          '400': html('Wrong or missing state, or an invalid, used or expired code (40029, 40163, 42003)'),
          '403': html('A snapshot-mode (virtual) user'),
          '410': html('The ticket, or the OpenID Connect interaction, expired or was finished'),
          '502': html('WeChat did not answer the code exchange'),
        },
      },
    },
    '/api/session': {
      options: {
        operationId: 'sessionPreflight',
        summary: 'CORS preflight for origins in ALLOWED_ORIGINS',
        tags: ['gateway'],
        responses: { '204': { description: 'Allowed methods and headers; CORS headers only for allowed origins' } },
      },
      get: {
        operationId: 'checkSession',
        summary: 'Is this token still good? (`qrgate_session` cookie or `Authorization: Bearer <token>`)',
        description:
          'For pages and relying backends: 200 while the session is live; 401 once it was signed out or revoked (SESSION_ENDED), whether or not any push about it arrived, or for a token that is not one of ours or expired (SESSION_INVALID).',
        tags: ['gateway'],
        responses: {
          '200': { description: 'The live session', ...json(ref('SessionStatus')) },
          '401': { description: 'SESSION_INVALID or SESSION_ENDED', ...json(ref('ErrorResponse')) },
          '503': { description: 'STORE_UNAVAILABLE (Retry-After)', ...json(ref('ErrorResponse')) },
        },
      },
      post: {
        operationId: 'exchangeCode',
        summary: 'Exchange a one-time login code for a session',
        description:
          'Sets the HttpOnly `qrgate_session` cookie too. A code works once; a failure changes nothing. The same code with the same secret again within 55 s of its redemption (a retry whose answer was lost) returns that same session (same sub, jti, iat, exp), never a second one.',
        tags: ['gateway'],
        requestBody: { required: true, ...json(ref('SessionRequest')) },
        responses: {
          '200': { description: 'The session', ...json(ref('SessionResponse')) },
          '400': { description: 'Malformed body', ...json(ref('ErrorResponse')) },
          '401': { description: 'Unknown, expired or reused code, or wrong secret', ...json(ref('ErrorResponse')) },
          '403': { description: 'Origin not allowed', ...json(ref('ErrorResponse')) },
          '413': { description: 'Body over 4 KiB', ...json(ref('ErrorResponse')) },
          '415': { description: 'Not application/json, or a Content-Encoding', ...json(ref('ErrorResponse')) },
          '429': { description: 'RATE_LIMIT_EXCHANGES_PER_MINUTE reached (Retry-After)', ...json(ref('ErrorResponse')) },
          '503': {
            description: 'STORE_UNAVAILABLE: the login store failed (e.g. failing over); nothing changed, send it again (Retry-After)',
            ...json(ref('ErrorResponse')),
          },
        },
      },
    },
    '/api/sessions': {
      get: {
        operationId: 'listSessions',
        summary: "The caller's live sessions (by the `qrgate_session` cookie or `Authorization: Bearer <token>`)",
        tags: ['gateway'],
        responses: {
          '200': { description: 'Oldest first; `current` marks the session of this request', ...json(ref('SessionList')) },
          '401': { description: 'SESSION_INVALID (no or bad token) or SESSION_ENDED', ...json(ref('ErrorResponse')) },
          '503': { description: 'STORE_UNAVAILABLE (Retry-After)', ...json(ref('ErrorResponse')) },
        },
      },
      delete: {
        operationId: 'endAllSessions',
        summary: 'Sign out everywhere: every live session of the caller ends (`session_ended` on each page)',
        tags: ['gateway'],
        responses: {
          '204': { description: "Ended; the caller's own cookie is cleared" },
          '401': { description: 'SESSION_INVALID or SESSION_ENDED', ...json(ref('ErrorResponse')) },
          '403': { description: 'ORIGIN_NOT_ALLOWED', ...json(ref('ErrorResponse')) },
          '503': { description: 'STORE_UNAVAILABLE (Retry-After)', ...json(ref('ErrorResponse')) },
        },
      },
    },
    '/api/sessions/{sid}': {
      delete: {
        operationId: 'endSession',
        summary: "End one of the caller's sessions (`signed_out` when it is the caller's own, else `revoked`)",
        tags: ['gateway'],
        parameters: [{ name: 'sid', in: 'path', required: true, description: 'The session id (claim `sid`)', schema: { type: 'string' } }],
        responses: {
          '204': { description: 'Ended' },
          '401': { description: 'SESSION_INVALID or SESSION_ENDED', ...json(ref('ErrorResponse')) },
          '403': { description: 'ORIGIN_NOT_ALLOWED', ...json(ref('ErrorResponse')) },
          '404': { description: "SESSION_NOT_FOUND: unknown, over already, or another user's (alike)", ...json(ref('ErrorResponse')) },
          '503': { description: 'STORE_UNAVAILABLE (Retry-After)', ...json(ref('ErrorResponse')) },
        },
      },
    },
    '/.well-known/jwks.json': {
      get: {
        operationId: 'jwks',
        summary: "The public key(s) that verify session tokens (ES256 or RS256, `aud`: the site's origin)",
        tags: ['gateway'],
        responses: { '200': { description: 'JWK Set', ...json(ref('Jwks')) } },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document',
        tags: ['gateway'],
        responses: { '200': { description: 'OpenAPI 3.1', ...json({ type: 'object' }) } },
      },
    },
    '/sessions/phone': {
      get: {
        operationId: 'phoneSessionsPage',
        summary:
          "The page of a WeChat user's signed-in browsers, opened from the link in the reply after a login (`/sessions/phone#t=<token>`): the token stays in the fragment, and the page's script posts it (`action=open`)",
        tags: ['gateway'],
        responses: { '200': html('The opener page (no token in it)') },
      },
      post: {
        operationId: 'phoneSessionsAction',
        summary: "List the link's user's signed-in browsers (`open`), sign one out (`end` with `sid`) or all of them (`end_all`)",
        tags: ['gateway'],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['t', 'action'],
                properties: { t: { type: 'string' }, action: { enum: ['open', 'end', 'end_all'] }, sid: { type: 'string' } },
              },
            },
          },
        },
        responses: {
          '200': html('The list, with what was just done'),
          '4XX': html('Cross-site, too large, malformed, or an expired link (410)'),
        },
      },
    },
    '/confirm': {
      get: {
        operationId: 'confirmPage',
        summary:
          "The scanner's confirmation page (LOGIN_CONFIRMATION=tap), opened from the scan reply's link `/confirm#t=<token>`: the token stays in the fragment, and the page's script posts it (`action=open`)",
        tags: ['gateway'],
        responses: { '200': html('The opener page (no token in it)') },
      },
      post: {
        operationId: 'confirmDecision',
        summary:
          'Open the link (`action=open`: shows which browser asks, and binds the link to this device with a SameSite=Strict cookie), or confirm or refuse the sign-in from that device',
        tags: ['gateway'],
        requestBody: {
          required: true,
          content: {
            'application/x-www-form-urlencoded': {
              schema: {
                type: 'object',
                required: ['t', 'action'],
                properties: { t: { type: 'string' }, action: { enum: ['open', 'confirm', 'cancel'] } },
              },
            },
          },
        },
        responses: {
          '200': html('The request page (open), or signed in / refused'),
          '4XX': html('Cross-site, too large, malformed, expired, used, or opened on another device'),
          '503': html(
            'The decision could not be recorded safely: no Redis Cluster replica acknowledged it in time, or the store failed (Retry-After). The request page again, to tap again; that tap confirms or applies it',
          ),
        },
      },
    },
    '/oidc/interaction/{uid}': {
      get: {
        operationId: 'oidcLoginStep',
        summary: "The OpenID Connect login step: the QR login page for one of the provider's interactions",
        description:
          "Needs the provider's interaction cookie; without it, or once expired, a page that starts the same authorization request over.",
        tags: ['gateway'],
        parameters: [{ name: 'uid', in: 'path', required: true, description: 'The interaction id', schema: { type: 'string' } }],
        responses: {
          '200': html('The login page, redeeming at …/finish'),
          '303': { description: 'Consent granted at once (first-party clients)' },
          '400': html('Expired or unknown interaction: Start over'),
        },
      },
    },
    '/oidc/interaction/{uid}/wechat': {
      get: {
        operationId: 'oidcWechatLoginStart',
        summary:
          "The OpenID Connect login step inside WeChat: the one-tap button's target, WeChat's web authorization for this interaction",
        description:
          "Needs the provider's interaction cookie. `GET /auth/wechat/callback` then finishes the interaction (amr `wechat`) instead of signing the browser in to the gateway.",
        tags: ['gateway'],
        parameters: [{ name: 'uid', in: 'path', required: true, description: 'The interaction id', schema: { type: 'string' } }],
        responses: {
          '302': {
            description: 'To {WECHAT_OAUTH_BASE}/connect/oauth2/authorize…#wechat_redirect, or to the interaction past its login step',
          },
          '400': html('Expired or unknown interaction: Start over'),
          '503': html('The store is unavailable'),
        },
      },
    },
    '/oidc/interaction/{uid}/finish': {
      post: {
        operationId: 'oidcFinishLogin',
        summary: 'Redeem the login code and browser secret, finishing the interaction',
        tags: ['gateway'],
        parameters: [{ name: 'uid', in: 'path', required: true, description: 'The interaction id', schema: { type: 'string' } }],
        requestBody: { required: true, ...json(ref('SessionRequest')) },
        responses: {
          '200': {
            description: 'Where the browser continues (the provider redirects it on to the client with code and state)',
            ...json({
              type: 'object',
              required: ['openid', 'redirectTo'],
              properties: { openid: { type: 'string' }, redirectTo: { type: 'string', format: 'uri' } },
            }),
          },
          '401': { description: 'Unknown, expired or reused code, or wrong secret', ...json(ref('ErrorResponse')) },
          '403': { description: 'Cross-origin request', ...json(ref('ErrorResponse')) },
          '410': { description: 'The interaction expired or was finished (code INTERACTION_EXPIRED)', ...json(ref('ErrorResponse')) },
          '429': { description: 'RATE_LIMIT_EXCHANGES_PER_MINUTE reached (Retry-After)', ...json(ref('ErrorResponse')) },
        },
      },
    },
    '/client/qrgate.js': {
      get: {
        operationId: 'clientBundle',
        summary: 'The browser client (@qrgate/client) as one ES module, for `<script type="module">`',
        tags: ['gateway'],
        responses: {
          '200': {
            description: 'JavaScript (CORS: any origin; ETag)',
            content: { 'application/javascript': { schema: { type: 'string' } } },
          },
          '304': { description: 'Not modified' },
          '404': { description: 'Not built', ...json(ref('ErrorResponse')) },
        },
      },
    },
    '/client/qrgate.js.map': {
      get: {
        operationId: 'clientBundleSourceMap',
        summary: "The client bundle's source map",
        tags: ['gateway'],
        responses: {
          '200': { description: 'Source map', ...json({ type: 'object' }) },
          '304': { description: 'Not modified' },
          '404': { description: 'Not built' },
        },
      },
    },
    '/wechat': {
      get: {
        operationId: 'wechatHandshake',
        summary: "WeChat's server URL check: echo `echostr` when the signature is right",
        tags: ['webhook'],
        parameters: [...SIGNED_QUERY, queryParam('echostr', 'Echoed back as text/plain (at most 256 characters)')],
        responses: { '200': text('The echostr'), '400': text('Missing echostr'), '401': text('Bad signature or stale timestamp') },
      },
      post: {
        operationId: 'wechatPush',
        summary: 'A push from WeChat (subscribe / SCAN events), plaintext or safe mode (AES)',
        tags: ['webhook'],
        parameters: [
          ...SIGNED_QUERY,
          queryParam('openid', 'The sender', false),
          queryParam('encrypt_type', '`aes` in safe mode', false),
          queryParam('msg_signature', 'Signature over the encrypted body (safe mode)', false),
        ],
        requestBody: { required: true, content: { 'text/xml': { schema: { type: 'string' } } } },
        responses: {
          '200': {
            description: 'A reply message (XML, encrypted in safe mode) or `success`',
            content: { 'text/xml': { schema: { type: 'string' } }, 'text/plain': { schema: { const: 'success' } } },
          },
          '400': text('Malformed XML or body'),
          '401': text('Bad signature, stale timestamp, replay, or plaintext when WECHAT_REQUIRE_ENCRYPTION'),
          '408': text('The request did not arrive whole within HTTP_REQUEST_TIMEOUT_SECONDS (Node answers, then closes)'),
          '413': text('Body too large'),
        },
      },
    },
    '/cgi-bin/stable_token': {
      post: {
        operationId: 'simStableToken',
        summary: "WeChat's stable access token",
        tags: ['wechat-sim'],
        requestBody: { required: true, ...json(ref('StableTokenRequest')) },
        responses: wechatResult('AccessToken', 'A token, or a WeChat error'),
      },
    },
    '/cgi-bin/token': {
      get: {
        operationId: 'simToken',
        summary: "WeChat's classic (rotating) access token",
        tags: ['wechat-sim'],
        parameters: [queryParam('grant_type', '`client_credential`'), queryParam('appid', 'App id'), queryParam('secret', 'App secret')],
        responses: wechatResult('AccessToken', 'A token, or a WeChat error'),
      },
    },
    '/cgi-bin/qrcode/create': {
      post: {
        operationId: 'simQrCreate',
        summary: 'Create a parametric QR code (QR_STR_SCENE and the other action names)',
        tags: ['wechat-sim'],
        parameters: [ACCESS_TOKEN],
        requestBody: { required: true, ...json(ref('QrCreateRequest')) },
        responses: wechatResult('QrCreateResponse', 'The QR ticket and URL, or a WeChat error'),
      },
    },
    '/cgi-bin/showqrcode': {
      get: {
        operationId: 'simShowQrCode',
        summary: 'The QR code image of a ticket',
        tags: ['wechat-sim'],
        parameters: [queryParam('ticket', 'The ticket from qrcode/create')],
        responses: {
          '200': { description: 'PNG', content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } } },
          '404': text('Unknown ticket'),
        },
      },
    },
    '/cgi-bin/user/info': {
      get: {
        operationId: 'simUserInfo',
        summary: "A follower's profile (nickname and avatar empty, as WeChat since 2021)",
        tags: ['wechat-sim'],
        parameters: [ACCESS_TOKEN, queryParam('openid', 'The user'), queryParam('lang', 'Ignored', false)],
        responses: wechatResult('UserInfo', 'The profile (`subscribe: 0` for a non-follower), or a WeChat error'),
      },
    },
    '/connect/oauth2/authorize': {
      get: {
        operationId: 'simOauthAuthorize',
        summary:
          'Web authorization, step 1: WeChat\'s checks (appid, parameter order, authorization domain, scope, state); outside WeChat the "open in WeChat" page',
        tags: ['wechat-sim'],
        parameters: [
          queryParam('appid', 'The AppID'),
          queryParam('redirect_uri', 'The site callback, on the authorization domain'),
          queryParam('response_type', '`code`'),
          queryParam('scope', '`snsapi_base` or `snsapi_userinfo`'),
          queryParam('state', 'Letters and digits, at most 128'),
        ],
        responses: {
          '200': html('The page that checks #wechat_redirect and goes on, or "open in WeChat"'),
          '400': html("WeChat's error page with the errcode (10001, 10003, 10005, 10014, 10016, …)"),
        },
      },
    },
    '/connect/oauth2/authorize/continue': {
      get: {
        operationId: 'simOauthContinue',
        summary: 'Web authorization, step 2: a single-use code for the signed-in WeChat user, back to redirect_uri',
        tags: ['wechat-sim'],
        parameters: [
          queryParam('appid', 'The AppID'),
          queryParam('redirect_uri', 'The site callback, on the authorization domain'),
          queryParam('response_type', '`code`'),
          queryParam('scope', '`snsapi_base` or `snsapi_userinfo`'),
          queryParam('state', 'Letters and digits, at most 128'),
        ],
        responses: { '302': { description: 'To redirect_uri with code and state' }, '400': html("WeChat's error page with the errcode") },
      },
    },
    '/connect/oauth2/authorize/deny': {
      get: {
        operationId: 'simOauthDeny',
        summary: 'The user refuses consent: back to redirect_uri with state and no code',
        tags: ['wechat-sim'],
        parameters: [
          queryParam('appid', 'The AppID'),
          queryParam('redirect_uri', 'The site callback, on the authorization domain'),
          queryParam('response_type', '`code`'),
          queryParam('scope', '`snsapi_base` or `snsapi_userinfo`'),
          queryParam('state', 'Letters and digits, at most 128'),
        ],
        responses: { '302': { description: 'To redirect_uri with state only' }, '400': html("WeChat's error page with the errcode") },
      },
    },
    '/sns/oauth2/access_token': {
      get: {
        operationId: 'simOauthAccessToken',
        summary: 'Exchange a web-authorization code (single use, 5 minutes): 40029 unknown, 40163 used, 42003 expired',
        tags: ['wechat-sim'],
        parameters: [
          queryParam('appid', 'The AppID'),
          queryParam('secret', 'The AppSecret'),
          queryParam('code', 'The code'),
          queryParam('grant_type', '`authorization_code`'),
        ],
        responses: {
          '200': {
            description: 'openid (unionid when bound, is_snapshotuser in snapshot mode), or a WeChat error',
            ...json({ type: 'object' }),
          },
        },
      },
    },
    '/sns/userinfo': {
      get: {
        operationId: 'simOauthUserInfo',
        summary: 'The profile for a snsapi_userinfo token; 48001 for base scope and snapshot users',
        tags: ['wechat-sim'],
        parameters: [
          queryParam('access_token', 'The web-authorization access token'),
          queryParam('openid', 'The user', false),
          queryParam('lang', 'Ignored', false),
        ],
        responses: { '200': { description: 'The profile, or a WeChat error', ...json({ type: 'object' }) } },
      },
    },
    '/sim/api/faults': {
      post: {
        operationId: 'simFaults',
        summary: 'Test hook: make the whole platform API slow (apiDelayMs) and/or failing (apiStatus); {} heals it',
        tags: ['wechat-sim'],
        requestBody: {
          required: false,
          ...json({ type: 'object', properties: { apiDelayMs: { type: 'integer', minimum: 0 }, apiStatus: { type: 'integer' } } }),
        },
        responses: {
          '200': {
            description: 'The faults now',
            ...json({ type: 'object', properties: { apiDelayMs: { type: 'integer' }, apiStatus: { type: 'integer' } } }),
          },
          ...simErrors(),
        },
      },
    },
    '/sim/api/oauth': {
      post: {
        operationId: 'simOauthSwitches',
        summary: 'Who is signed in to the simulated WeChat app, and the snapshot-mode switch',
        tags: ['wechat-sim'],
        requestBody: {
          required: false,
          ...json({
            type: 'object',
            properties: { openid: { type: 'string' }, snapshot: { type: 'boolean' } },
            additionalProperties: false,
          }),
        },
        responses: {
          '200': {
            description: 'The switches now',
            ...json({ type: 'object', properties: { openid: { type: 'string' }, snapshot: { type: 'boolean' } } }),
          },
          ...simErrors(),
        },
      },
    },
    '/sim': {
      get: {
        operationId: 'simPhonePage',
        summary: 'The simulated phone: pick a user, scan a code, open the reply link',
        tags: ['wechat-sim'],
        responses: { '200': html('The phone page') },
      },
    },
    '/sim/api/scan': {
      post: {
        operationId: 'simScan',
        summary: 'Scan a QR code: push a signed subscribe or SCAN event to the webhook, retrying like WeChat',
        tags: ['wechat-sim'],
        requestBody: { required: true, ...json(ref('SimScanRequest')) },
        responses: {
          '200': { description: 'What the webhook answered (and, with tap, what the link did)', ...json({ type: 'object' }) },
          ...simErrors(),
        },
      },
    },
    '/sim/api/follow': {
      post: {
        operationId: 'simFollow',
        summary: 'Make a user follow the account (no push)',
        tags: ['wechat-sim'],
        requestBody: { required: true, ...json(ref('SimUserRequest')) },
        responses: {
          '200': {
            description: 'The user now follows',
            ...json({ type: 'object', properties: { openid: { type: 'string' }, following: { const: true } } }),
          },
          ...simErrors(),
        },
      },
    },
    '/sim/api/unfollow': {
      post: {
        operationId: 'simUnfollow',
        summary: 'Unfollow: push a signed unsubscribe event',
        tags: ['wechat-sim'],
        requestBody: { required: true, ...json(ref('SimUserRequest')) },
        responses: { '200': { description: 'What the webhook answered', ...json({ type: 'object' }) }, ...simErrors() },
      },
    },
    '/sim/api/users': {
      get: {
        operationId: 'simUsers',
        summary: 'The demo users and whether each follows',
        tags: ['wechat-sim'],
        responses: {
          '200': {
            description: 'Users',
            ...json({
              type: 'array',
              items: {
                type: 'object',
                properties: { openid: { type: 'string' }, name: { type: 'string' }, following: { type: 'boolean' } },
              },
            }),
          },
        },
      },
    },
    '/sim/api/codes': {
      get: {
        operationId: 'simCodes',
        summary: 'The QR codes alive right now',
        tags: ['wechat-sim'],
        responses: { '200': { description: 'Codes', ...json({ type: 'array', items: ref('SimCode') }) } },
      },
    },
    '/sim/api/stats': {
      get: {
        operationId: 'simStats',
        summary: 'How many calls of each kind the simulated platform answered',
        tags: ['wechat-sim'],
        responses: { '200': { description: 'Counts by kind', ...json({ type: 'object', additionalProperties: { type: 'integer' } }) } },
      },
    },
    '/sim/api/reset-stats': {
      post: {
        operationId: 'simResetStats',
        summary: 'Zero the call counts',
        tags: ['wechat-sim'],
        responses: { '200': { description: 'The zeroed counts', ...json({ type: 'object', additionalProperties: { type: 'integer' } }) } },
      },
    },
  },
  components: { schemas: OPENAPI_SCHEMAS },
};

function simErrors(): Record<string, object> {
  return {
    '4XX': {
      description:
        'Invalid body, unknown user or code; 403 from another Origin (or Sec-Fetch-Site cross-site), 415 for a POST that is not application/json, 429 with too many pushes in flight',
      ...json(ref('ErrorResponse')),
    },
  };
}
