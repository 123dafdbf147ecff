export * from './wechat-signature.js';
export * from './wechat-aes.js';
export * from './wechat-push.js';
export * from './wechat-api.js';
export * from './wechat-oauth.js';
