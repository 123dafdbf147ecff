/**
 * How soon the login page's socket connects again after losing its gateway: Socket.IO's own backoff (1 s, then
 * doubling to at most 5 s, each delay randomized by ±50 %), so a gateway's thousand browsers do not all come back
 * in the same second to the gateways that are left. Shared with the fault suite's simulated browsers, so a
 * reconnection storm there is the one real pages make.
 */
export const RECONNECT_BACKOFF = { reconnectionDelay: 1_000, reconnectionDelayMax: 5_000 } as const;
