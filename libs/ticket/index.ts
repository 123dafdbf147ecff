export * from './ticket.js';
export * from './ticket-state.js';
