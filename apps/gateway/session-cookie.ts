/**
 * The session cookie, one definition for every way a browser signs in (the code exchange and the in-WeChat
 * login): HttpOnly, SameSite=Lax, the session's lifetime, Secure when the browser sees https.
 */
import type { Context } from 'koa';
import { SESSION_COOKIE } from '../../libs/protocol/index.js';
import type { GatewaySettings } from './gateway-settings.js';

export function setSessionCookie(ctx: Context, token: string, settings: GatewaySettings): void {
  writeSessionCookie(ctx, token, settings, settings.sessionTtlSeconds * 1000);
}

/** Forget the session cookie (its session ended). */
export function clearSessionCookie(ctx: Context, settings: GatewaySettings): void {
  writeSessionCookie(ctx, '', settings, 0);
}

function writeSessionCookie(ctx: Context, token: string, settings: GatewaySettings, maxAge: number): void {
  // Behind a TLS-terminating proxy the socket is plain HTTP; PUBLIC_URL says the browser sees https.
  const secure = ctx.secure || (settings.publicUrl?.startsWith('https:') ?? false);
  if (secure) ctx.cookies.secure = true;
  ctx.cookies.set(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
    maxAge,
    overwrite: true,
  });
}
