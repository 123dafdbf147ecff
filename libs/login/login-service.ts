/**
 * The login use cases: every way a ticket changes, each in one place. A use case applies one pure transition
 * to the store, counts what changed (metrics, the login counter), rings the ticket's doorbell, and returns a
 * discriminated union that the app translates into its own words (a WeChat reply, a page, an ack, an HTTP
 * body). Nothing here knows about HTTP, sockets or WeChat's XML.
 */
import { ReplicaUnconfirmedError, type Engine } from '../engine/index.js';
import type { Logger, Metrics, ReplicaUnconfirmedOperation } from '../observability/index.js';
import type { LoginUser } from '../protocol/index.js';
import {
  isRedeemReplay,
  newLoginCode,
  newTicket,
  safeEqual,
  ticketIdOfCode,
  ticketLogId,
  transition,
  type BrowserContext,
  type ConfirmationMode,
  type Ticket,
  type TicketEvent,
  type TicketQr,
  type TransitionRefusal,
} from '../ticket/index.js';
import { createDoorbell, type Doorbell } from './doorbell.js';
import { createLoginCounter, type LoginCounter } from './login-counter.js';

export interface LoginServiceDeps {
  engine: Engine;
  metrics: Metrics;
  logger: Logger;
  /** Clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Pause between the doorbell's tries (times the try number), ms. Default {@link RING_BACKOFF_MS}. */
  ringBackoffMs?: number;
}

export interface IssueInput {
  id: string;
  secret: string;
  qr: TicketQr;
  browser: BrowserContext;
  ttlSeconds: number;
}
export type IssueOutcome = { ok: true; ticket: Ticket } | { ok: false; reason: 'store_unavailable'; error: unknown };

export interface ScanInput {
  ticketId: string;
  openid: string;
  mode: ConfirmationMode;
  /**
   * WeChat's own ticket of the scanned QR code (the event's `Ticket`, which WeChat always sends): it must be
   * the ticket's (WECHAT.md §0.5). It never leaves the store, so a forged scan cannot name it. `null`: no QR
   * code, a web authorization inside WeChat, which may finish only a ticket issued without one.
   */
  qrTicket: string | null;
  /** The AppID that saw the scan (the webhook's, or the web authorization's): it must be the ticket's. */
  appId: string;
  user?: LoginUser;
  /** A read of the ticket already under way (`LoginService.read`), e.g. started while delivery marks were claimed. */
  current?: Promise<Ticket | null>;
}
/**
 * `unknown`: no such open ticket (gone, expired, or the scene was lifted into another QR code). `refused`:
 * someone else scanned it, or the login ended. Otherwise the ticket is `scanned` (tap mode) or `confirmed`, by
 * this scanner: `changed` says whether this call moved it, `told` whether the doorbell got through.
 */
export type ScanOutcome =
  | { kind: 'unknown' }
  | { kind: 'refused'; reason: TransitionRefusal }
  | { kind: 'scanned'; ticket: Ticket; changed: boolean; told: boolean }
  | { kind: 'confirmed'; ticket: Ticket; changed: boolean; told: boolean; loginCount?: number };

export interface DecideInput {
  ticketId: string;
  openid: string;
  action: 'confirm' | 'cancel';
}
/**
 * The ticket is `confirmed` or `cancelled` by this scanner: `changed` says whether this call moved it (false: it
 * was decided so already, e.g. by a tap whose answer was an error), `told` whether the doorbell got through.
 * `loginCount` only with the move that confirmed it.
 */
export type DecideOutcome =
  | { kind: 'refused'; reason: TransitionRefusal | 'not_found' }
  | { kind: 'confirmed'; ticket: Ticket; changed: boolean; told: boolean; loginCount?: number }
  | { kind: 'cancelled'; ticket: Ticket; changed: boolean; told: boolean };

export interface RedeemInput {
  code: string;
  secret: string;
  /** The origin redeeming when it is another site (ALLOWED_ORIGINS); absent: the gateway's own page. */
  site?: string;
}
/** `replayed`: the code was consumed by this same exchange moments ago (its answer was lost); same session. */
export type RedeemOutcome =
  | { ok: true; ticket: Ticket; openid: string; replayed: boolean }
  | { ok: false; reason: TransitionRefusal | 'not_found' | 'malformed' };

/** `expired`: this call recorded it (and rang). `open`/`finished`: not for expiry yet, or it ended otherwise. `gone`: not in the store. */
export type ExpireOutcome = { kind: 'expired'; ticket: Ticket; told: boolean } | { kind: 'unchanged'; ticket: Ticket } | { kind: 'gone' };

export interface LoginService {
  /** Store a new `pending` ticket for a QR code WeChat issued. */
  issue(input: IssueInput): Promise<IssueOutcome>;
  /** The ticket as stored, or null: to start a scan's read early (`ScanInput.current`). */
  read(ticketId: string): Promise<Ticket | null>;
  /** A WeChat user scanned the ticket's QR code. Idempotent: a repeat by the same scanner rings again. */
  scan(input: ScanInput): Promise<ScanOutcome>;
  /**
   * The scanner confirmed or refused on the confirmation page (`tap` mode). Idempotent: the same decision by
   * the same scanner again is answered as the first, and rings again. On a Redis Cluster it resolves only once
   * a replica has the decision, and rejects with `ReplicaUnconfirmedError` when none acknowledged it in time.
   */
  decide(input: DecideInput): Promise<DecideOutcome>;
  /**
   * Redeem a login code with the browser's secret; the ticket becomes `consumed`. The same code and secret
   * again within `REDEEM_REPLAY_SECONDS` (libs/ticket/redeem-replay.ts) is a replay of that one redemption, not a second one.
   */
  redeem(input: RedeemInput): Promise<RedeemOutcome>;
  /** The ticket's TTL passed: record `expired`, once, whoever gets there first. */
  expire(ticketId: string): Promise<ExpireOutcome>;
  /** Ring a ticket's doorbell again, e.g. when a decided link is opened again after a lost ring. */
  ring(ticket: Ticket): Promise<boolean>;
  /** The login counter (also forgotten when a user unfollows). */
  readonly counter: LoginCounter;
}

export function createLoginService(deps: LoginServiceDeps): LoginService {
  const { engine, metrics, logger } = deps;
  const now = deps.now ?? Date.now;
  const doorbell: Doorbell = createDoorbell({
    events: engine.events,
    logger,
    ...(deps.ringBackoffMs !== undefined ? { backoffMs: deps.ringBackoffMs } : {}),
  });
  const counter = createLoginCounter({ kv: engine.kv, logger });

  /** The one place a login code is minted: at the transition that confirms the ticket it names. */
  const confirming = (ticket: Ticket): string => newLoginCode(ticket.id);

  /**
   * A durable write that no replica acknowledged in time is counted by the use case that made it (the webhook
   * and the confirmation page answer it with a 503), so operators see it happening; the error goes on.
   */
  const countingUnreplicated = async <T>(operation: ReplicaUnconfirmedOperation, write: Promise<T>): Promise<T> => {
    try {
      return await write;
    } catch (error) {
      if (error instanceof ReplicaUnconfirmedError) metrics.replicaUnconfirmed.inc({ operation });
      throw error;
    }
  };

  /** The login count of a confirmation this call wrote. */
  const confirmedCount = (ticket: Ticket): Promise<number | undefined> =>
    ticket.openid === undefined ? Promise.resolve(undefined) : counter.count(ticket.openid);
  /** A confirmation this call wrote: count it (before the ring, so a re-run on the unchanged path cannot count twice). */
  const confirmed = async (ticket: Ticket): Promise<number | undefined> => {
    metrics.ticketsConfirmed.inc();
    return confirmedCount(ticket);
  };

  return {
    counter,
    ring: (ticket) => doorbell.ring(ticket),
    read: (ticketId) => engine.tickets.get(ticketId),

    async issue(input) {
      const ticket = newTicket({ ...input, now: now() });
      try {
        await engine.tickets.create(ticket);
      } catch (error) {
        logger.error({ err: error, ticket: ticketLogId(ticket.id) }, 'could not store a new ticket');
        return { ok: false, reason: 'store_unavailable', error };
      }
      metrics.ticketsCreated.inc();
      return { ok: true, ticket };
    },

    async scan(input) {
      const at = now();
      let foreignQr = false;
      // The hot path of a login: the doorbell is rung and a confirmation counted as the write is sent, so all
      // three share one round trip (on a Cluster master with a replica, once the replica has the write). A write
      // that loses its compare-and-set takes its count back (its retry counts again): the count follows the
      // write that stands, and a process that dies between the two leaves it right (both were sent together).
      let ringing: Promise<boolean> | undefined;
      let counting: { openid: string; count: Promise<number | undefined> } | undefined;
      const giveBack = (): void => {
        const lost = counting;
        counting = undefined;
        void lost?.count.then((count) => (count === undefined ? undefined : counter.uncount(lost.openid)));
      };
      const ringWithWrite = {
        onWrite: (written: Ticket): void => {
          ringing = doorbell.ring(written);
          // Called again only when the previous attempt lost its compare-and-set.
          giveBack();
          if (written.status === 'confirmed' && written.openid !== undefined) {
            counting = { openid: written.openid, count: counter.count(written.openid) };
          }
        },
        // WeChat does not re-send a scan it got an answer to: the write must survive a Redis failover.
        durable: true,
        ...(input.current !== undefined ? { current: input.current } : {}),
      };
      const applying = engine.tickets.apply(
        input.ticketId,
        (ticket) => {
          // The event's QR ticket must be the one we created for this scene (WECHAT.md §0.5), and the push must
          // have reached the account that created it: a mismatch means the scene was lifted into another code,
          // or another account's webhook (the demo's) shares this store, so the ticket is left exactly as it is.
          const qrMatches =
            input.qrTicket === null
              ? ticket.qr.wechatTicket === ''
              : input.qrTicket !== '' && safeEqual(input.qrTicket, ticket.qr.wechatTicket);
          foreignQr = !qrMatches || input.appId !== ticket.qr.appId;
          if (foreignQr) return { ok: true, changed: false, ticket };
          const event: TicketEvent = {
            type: 'scan',
            openid: input.openid,
            at,
            mode: input.mode,
            code: confirming(ticket),
            ...(input.user !== undefined ? { user: input.user } : {}),
          };
          return transition(ticket, event);
        },
        ringWithWrite,
      );
      const result = await countingUnreplicated('scan', applying);
      // The last write sent did not stand (the ticket went, or a retry found nothing to change).
      if (!result.ok || !result.changed) giveBack();
      if (!result.ok) {
        return result.reason === 'not_found' || result.reason === 'expired'
          ? { kind: 'unknown' }
          : { kind: 'refused', reason: result.reason };
      }
      if (foreignQr) return { kind: 'unknown' };
      const ticket = result.ticket;
      if (ticket.status !== 'scanned' && ticket.status !== 'confirmed') return { kind: 'refused', reason: 'finished' };
      if (!result.changed) {
        // This scanner moved the ticket already: they scanned again, or this is a re-run after the write whose
        // ring was lost (a crash, a failed publish). Ring again; it is harmless if the browser heard it.
        return { kind: ticket.status, ticket, changed: false, told: await doorbell.ring(ticket) };
      }
      metrics.ticketsScanned.inc();
      // An engine that did not call onWrite (a wrapper that drops options) still gets its ring, after the write.
      const told = ringing ?? doorbell.ring(ticket);
      if (ticket.status === 'scanned') return { kind: 'scanned', ticket, changed: true, told: await told };
      // Counted with the write (above), or after it by an engine that did not call onWrite. A re-run that finds
      // the ticket unchanged never counts, so a login is never counted twice.
      metrics.ticketsConfirmed.inc();
      const loginCount = counting !== undefined ? await counting.count : await confirmedCount(ticket);
      return { kind: 'confirmed', ticket, changed: true, told: await told, ...(loginCount !== undefined ? { loginCount } : {}) };
    },

    async decide(input) {
      const at = now();
      const { openid } = input;
      // The phone is told its decision is recorded, and the scanner will not tap again: on a Cluster the write
      // must reach a replica first, or a failover could undo a login the scanner was told about.
      const result = await countingUnreplicated(
        'decide',
        engine.tickets.apply(
          input.ticketId,
          (t) =>
            transition(
              t,
              input.action === 'confirm' ? { type: 'confirm', openid, at, code: confirming(t) } : { type: 'cancel', openid, at },
            ),
          { durable: true },
        ),
      );
      if (!result.ok) {
        logger.info({ ticket: ticketLogId(input.ticketId), reason: result.reason }, 'confirmation refused');
        return { kind: 'refused', reason: result.reason };
      }
      const ticket = result.ticket;
      if (!result.changed) {
        // This scanner decided so already (a tap again, after an answer that was an error or got lost): the
        // stored decision has reached a replica (`durable`), so ring for it; harmless if the browser heard it.
        logger.info({ ticket: ticketLogId(ticket.id), status: ticket.status }, 'decision repeated on the phone');
        const told = await doorbell.ring(ticket);
        return ticket.status === 'confirmed'
          ? { kind: 'confirmed', ticket, changed: false, told }
          : { kind: 'cancelled', ticket, changed: false, told };
      }
      if (ticket.status === 'confirmed') {
        logger.info({ ticket: ticketLogId(ticket.id) }, 'login confirmed on the phone');
        const loginCount = await confirmed(ticket);
        const told = await doorbell.ring(ticket);
        return { kind: 'confirmed', ticket, changed: true, told, ...(loginCount !== undefined ? { loginCount } : {}) };
      }
      metrics.ticketsCancelled.inc();
      logger.info({ ticket: ticketLogId(ticket.id) }, 'login refused on the phone');
      return { kind: 'cancelled', ticket, changed: true, told: await doorbell.ring(ticket) };
    },

    async redeem(input) {
      const ticketId = ticketIdOfCode(input.code);
      if (ticketId === null) return { ok: false, reason: 'malformed' };
      const at = now();
      const result = await engine.tickets.apply(ticketId, (t) =>
        transition(t, {
          type: 'consume',
          code: input.code,
          secret: input.secret,
          ...(input.site !== undefined ? { site: input.site } : {}),
          at,
        }),
      );
      if (!result.ok && result.reason === 'already_consumed' && result.ticket.openid !== undefined) {
        // The browser's retry of an exchange whose answer it never got: the same result, nothing written.
        if (isRedeemReplay(result.ticket, input.code, input.secret, input.site, at)) {
          logger.info({ ticket: ticketLogId(ticketId) }, 'code exchange replayed');
          return { ok: true, ticket: result.ticket, openid: result.ticket.openid, replayed: true };
        }
      }
      if (!result.ok || !result.changed || result.ticket.openid === undefined) {
        const reason = result.ok ? 'already_consumed' : result.reason;
        logger.info({ ticket: ticketLogId(ticketId), reason }, 'code refused');
        return { ok: false, reason };
      }
      const ticket = result.ticket;
      metrics.ticketsConsumed.inc();
      metrics.scanToLogin.observe((at - (ticket.scannedAt ?? ticket.createdAt)) / 1000);
      // No doorbell: `consumed` shows as `confirmed`, which every watcher was told already.
      return { ok: true, ticket, openid: result.ticket.openid, replayed: false };
    },

    async expire(ticketId) {
      const result = await engine.tickets.apply(ticketId, (t) => transition(t, { type: 'expire', at: now() }));
      if (!result.ok) return result.reason === 'not_found' ? { kind: 'gone' } : { kind: 'unchanged', ticket: result.ticket };
      if (!result.changed) return { kind: 'unchanged', ticket: result.ticket };
      metrics.ticketsExpired.inc();
      logger.info({ ticket: ticketLogId(ticketId) }, 'ticket expired');
      return { kind: 'expired', ticket: result.ticket, told: await doorbell.ring(result.ticket) };
    },
  };
}
