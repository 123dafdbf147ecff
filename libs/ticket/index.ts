export * from './ticket.js';
export * from './ticket-state.js';
export * from './confirmation-link.js';
export * from './redeem-replay.js';
