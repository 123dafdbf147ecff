/**
 * The npm `wechat@2.1.0` package (CommonJS, untyped, Connect-style) mounted under Koa as WECHAT.md §10.3
 * describes. Only the part of its surface we use is typed here.
 *
 * The package parses the message XML (xml2js, pinned to ^0.6.2 by the root `overrides`) and dispatches it by
 * `MsgType`. Everything it does unsafely is done before it runs (see `push-verification.ts`): it is called with
 * `checkSignature: false`, a size-limited `rawBody`, and in safe mode the message we already decrypted, so it
 * never compares signatures, reads the stream, decrypts or encrypts itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Context } from 'koa';
import type { PushedMessage } from './scan-event.js';

/** The request as the package reads it: Connect-style `query`, and `rawBody` so it never reads the stream. */
export interface WechatRequest extends IncomingMessage {
  query?: Record<string, string>;
  rawBody?: Buffer;
  /** Set by our `event` handler: the parsed event message (the package parses; Koa answers). */
  qrgateEvent?: PushedMessage;
}

/** The package's `next`: called with the xml2js error on malformed XML, without one for unhandled types. */
export type WechatNext = (error?: unknown) => void;

/** A per-type handler, as the package calls it (it does not await it). */
type WechatMessageHandler = (message: PushedMessage, req: WechatRequest, res: ServerResponse, next: WechatNext) => void;

/** The middleware `middlewarify()` returns. */
export type WechatMiddleware = (req: WechatRequest, res: ServerResponse, next: WechatNext) => void;

interface WechatHandlerBuilder {
  /** The package's handler table, looked up as `handlers[message.MsgType]`. */
  handlers: Record<string, WechatMessageHandler>;
  event(handler: WechatMessageHandler): WechatHandlerBuilder;
  middlewarify(): WechatMiddleware;
}

interface WechatPackageConfig {
  token: string;
  appid: string;
  checkSignature: boolean;
}

type WechatPackage = (config: WechatPackageConfig) => WechatHandlerBuilder;

const require = createRequire(import.meta.url);
const wechat = require('wechat') as WechatPackage;

/**
 * The package's middleware. Its `event` handler only hands the parsed message back (on the request, then
 * `next`): the package never writes the response, Koa does. Other message types fall through to `next` too.
 */
export function createWechatMiddleware(options: { token: string; appId: string }): WechatMiddleware {
  const onEvent: WechatMessageHandler = (message, req, _res, next) => {
    req.qrgateEvent = message;
    next();
  };
  // checkSignature:false — we verified `signature` in constant time before calling it (WECHAT.md §10.4).
  const builder = wechat({ token: options.token, appid: options.appId, checkSignature: false });
  // The package looks the handler up as `handlers[MsgType]` on a plain object, so a MsgType of `constructor`
  // or `toString` called Object's own function (never answering) and `hasOwnProperty` threw. With no
  // prototype only the types we register are found; every other name falls through to `next` (unhandled).
  builder.handlers = Object.create(null) as Record<string, WechatMessageHandler>;
  return builder.event(onEvent).middlewarify();
}

/** What the package made of the message: an event to answer, or a type we do not handle. */
export type WechatOutcome = { kind: 'event'; message: PushedMessage } | { kind: 'unhandled' };

/**
 * Run the package on one Koa request (WECHAT.md §10.3): `req.query` and a Buffer `req.rawBody` (an empty value
 * would make it read the consumed stream and hang). `ctx.respond` is off while the package runs, in case it ever
 * wrote the response itself; it is on again once the package calls `next`, which it does for every message
 * (our event handler included). Rejects with the package's error (malformed XML).
 */
export function runWechat(
  ctx: Context,
  middleware: WechatMiddleware,
  input: { query: Record<string, string>; rawBody: Buffer },
): Promise<WechatOutcome> {
  return new Promise<WechatOutcome>((resolve, reject) => {
    const req = ctx.req as WechatRequest;
    req.query = input.query;
    req.rawBody = input.rawBody;
    delete req.qrgateEvent;
    const next: WechatNext = (error) => {
      // Koa must own the response again, or an error here leaves the request hanging (WECHAT.md §10.3 step 5).
      ctx.respond = true;
      const message = req.qrgateEvent;
      delete req.qrgateEvent;
      if (error !== undefined && error !== null) reject(error);
      else resolve(message !== undefined ? { kind: 'event', message } : { kind: 'unhandled' });
    };
    ctx.respond = false;
    try {
      // With rawBody set, parsing and dispatch run synchronously: a throw from inside xml2js lands here.
      middleware(req, ctx.res, next);
    } catch (error) {
      next(error);
    }
  });
}

/** True for the errors the package passes to `next` for XML it cannot parse. */
export const isWechatParseError = (error: unknown): boolean => error instanceof Error && error.name.startsWith('BadMessage');
