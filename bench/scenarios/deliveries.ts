/**
 * Bus messages per scan: how many bus messages the gateways receive, summed over all of them, for each
 * ticket change. qrgate's per-ticket sharded channels should keep it at 1.0 whatever the number of gateways
 * (only the gateway holding the browser's socket is subscribed); the floor is the sharded
 * `@socket.io/redis-adapter` with one room per socket, measured the same way in the same run.
 */
import { ClientPool } from '../client-pool.js';
import { withScope } from '../lifecycle.js';
import { startFloor, startQrgate } from '../systems.js';

export interface DeliveriesResult {
  kind: 'qrgate' | 'floor';
  gateways: number;
  browsers: number;
  /** Ticket changes (qrgate: `qrgate_tickets_scanned_total` of the webhooks; floor: publishes). */
  changes: number;
  /** Bus messages received, summed over the gateways. */
  busMessages: number;
  /** `busMessages / changes`. */
  perChange: number;
  /** Browsers that received their `login`. */
  loggedIn: number;
}

/** Browsers connect round robin over `gateways` processes; one scan each at `rate`; count. */
export async function measureDeliveries(
  kind: 'qrgate' | 'floor',
  gateways: number,
  browsers: number,
  rate: number,
): Promise<DeliveriesResult> {
  return withScope(async (defer) => {
    const system = kind === 'qrgate' ? await startQrgate({ gateways, webhooks: 1 }) : await startFloor({ servers: gateways, redis: true });
    defer(system.stop);
    const pool = await ClientPool.start(2);
    defer(pool.stop);
    const held = await pool.hold(
      system.gateways.map((g) => g.url),
      browsers,
      8,
    );
    const busBefore = await system.busMessages();
    const changesBefore = await system.changes();
    await system.scan(held.tickets, rate);
    const logins = await pool.logins(held.tickets, 20_000);
    // Let any duplicate or late bus message arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const changes = (await system.changes()) - changesBefore;
    const busMessages = (await system.busMessages()) - busBefore;
    return {
      kind,
      gateways,
      browsers: held.tickets.length,
      changes,
      busMessages,
      perChange: changes === 0 ? Number.NaN : busMessages / changes,
      loggedIn: logins.arrivals.length,
    };
  });
}
