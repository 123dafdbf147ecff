export * from './events.js';
export * from './errors.js';
export * from './http.js';
export * from './schemas.js';
export * from './openapi.js';
