export * from './config.js';
export * from "./lifecycle.js";
