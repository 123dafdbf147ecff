/**
 * The request and response bodies the OpenAPI document (openapi.ts) refers to as `#/components/schemas/<name>`:
 * the gateway's session exchange, the JWKS, and the WeChat API shapes the simulator answers with.
 */
export const OPENAPI_SCHEMAS: Record<string, object> = {
  SessionRequest: {
    type: 'object',
    required: ['code', 'secret'],
    properties: {
      code: { type: 'string', description: "The `login` event's code" },
      secret: { type: 'string', description: "The ticket's secret" },
    },
  },
  SessionResponse: {
    type: 'object',
    required: ['openid', 'token'],
    properties: {
      openid: { type: 'string' },
      token: {
        type: 'string',
        description:
          "JWT, `sub` = openid, `aud` = the origin of the site that began the login (the gateway's public origin for its own page)",
      },
    },
  },
  SessionStatus: {
    type: 'object',
    required: ['sub', 'sid', 'expiresAt'],
    properties: {
      sub: { type: 'string' },
      sid: { type: 'string', description: 'The session id: claim `sid` (and `jti`) of its token' },
      expiresAt: { type: 'integer', description: 'Epoch ms' },
    },
  },
  SessionList: {
    type: 'object',
    required: ['sessions'],
    properties: {
      sessions: {
        type: 'array',
        items: {
          type: 'object',
          required: ['sid', 'browser', 'ip', 'createdAt', 'method', 'current'],
          properties: {
            sid: { type: 'string' },
            browser: { type: 'string', description: 'Browser and OS, e.g. `Chrome 120 on Windows 10`' },
            ip: { type: 'string' },
            createdAt: { type: 'integer', description: 'Epoch ms' },
            method: { enum: ['scan', 'tap', 'in_wechat', 'oidc'] },
            client: { type: 'string', description: 'The OpenID Connect client, for method `oidc`' },
            current: { type: 'boolean' },
          },
        },
      },
    },
  },
  ErrorResponse: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string' }, code: { type: 'string', description: 'A machine-readable code, e.g. RATE_LIMITED' } },
  },
  Jwks: {
    type: 'object',
    required: ['keys'],
    properties: {
      keys: {
        type: 'array',
        items: {
          type: 'object',
          required: ['kty', 'kid'],
          properties: { kty: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string' }, use: { type: 'string' } },
        },
      },
    },
  },
  WechatError: {
    type: 'object',
    required: ['errcode', 'errmsg'],
    properties: { errcode: { type: 'integer' }, errmsg: { type: 'string' } },
  },
  AccessToken: {
    type: 'object',
    required: ['access_token', 'expires_in'],
    properties: { access_token: { type: 'string' }, expires_in: { type: 'integer' } },
  },
  StableTokenRequest: {
    type: 'object',
    required: ['grant_type', 'appid', 'secret'],
    properties: {
      grant_type: { const: 'client_credential' },
      appid: { type: 'string' },
      secret: { type: 'string' },
      force_refresh: { type: 'boolean' },
    },
  },
  QrCreateRequest: {
    type: 'object',
    required: ['action_name', 'action_info'],
    properties: {
      expire_seconds: { type: 'integer' },
      action_name: { enum: ['QR_SCENE', 'QR_STR_SCENE', 'QR_LIMIT_SCENE', 'QR_LIMIT_STR_SCENE'] },
      action_info: {
        type: 'object',
        properties: { scene: { type: 'object', properties: { scene_id: { type: 'integer' }, scene_str: { type: 'string' } } } },
      },
    },
  },
  QrCreateResponse: {
    type: 'object',
    required: ['ticket', 'url'],
    properties: { ticket: { type: 'string' }, expire_seconds: { type: 'integer' }, url: { type: 'string' } },
  },
  UserInfo: {
    type: 'object',
    required: ['subscribe', 'openid'],
    properties: {
      subscribe: { enum: [0, 1] },
      openid: { type: 'string' },
      nickname: { type: 'string' },
      headimgurl: { type: 'string' },
      subscribe_scene: { type: 'string' },
      qr_scene_str: { type: 'string' },
    },
  },
  SimScanRequest: {
    type: 'object',
    required: ['scene', 'openid'],
    properties: {
      scene: { type: 'string', description: 'The scene string of the QR code' },
      openid: { type: 'string' },
      encrypt: { type: 'boolean', description: 'Safe mode push (default: when the simulator has an AES key)' },
      tap: { enum: ['confirm', 'cancel'], description: "Then open the reply's link and tap that button" },
    },
  },
  SimUserRequest: {
    type: 'object',
    required: ['openid'],
    properties: { openid: { type: 'string' }, encrypt: { type: 'boolean' } },
  },
  SimCode: {
    type: 'object',
    properties: {
      scene: { type: 'string' },
      qrTicket: { type: 'string' },
      url: { type: 'string' },
      createdAt: { type: 'integer' },
      expiresAt: { type: ['integer', 'null'] },
    },
  },
};
