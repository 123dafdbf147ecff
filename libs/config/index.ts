export * from './config.js';
export * from './roles.js';
