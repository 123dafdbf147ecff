/**
 * How soon the login page's socket connects again after losing its gateway: Socket.IO's own backoff (1 s, then
 * doubling to at most 5 s, each delay randomized by ±50 %), so a gateway's thousand browsers do not all come back
 * in the same second to the gateways that are left. Shared with the fault suite's simulated browsers, so a
 * reconnection storm there is the one real pages make.
 *
 * `timeout` bounds one connection attempt. An attempt whose connection closes before the engine.io handshake
 * answered (a reset mid-handshake, a gateway dying under it) gets no error from Socket.IO's manager, only this
 * timeout: at Socket.IO's default of 20 s the page sat on a dead attempt for that long (seen in the fault suite's
 * socket-drop scenario, where the browsers' second drop lands on their reconnection). A handshake takes well under
 * a second, and a gateway too busy for it answers `GATEWAY_BUSY` at once; 10 s leaves room for a slow one.
 */
export const RECONNECT_BACKOFF = { reconnectionDelay: 1_000, reconnectionDelayMax: 5_000, timeout: 10_000 } as const;
