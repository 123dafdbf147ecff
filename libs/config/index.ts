export * from './config.js';
export * from './roles.js';
export * from './demo-mode.js';
