/**
 * HTML at the edge: escaping (escape-html, the package Koa uses) and the page shell every server-rendered page
 * shares: a fresh CSP nonce per response, so only the page's own inline style (and script, if its policy says
 * so) runs; `nosniff`; never cached.
 */
import { randomBytes } from 'node:crypto';
import escapeHtmlText from 'escape-html';
import type { Context } from 'koa';

/** Text made safe for HTML element content and quoted attribute values. */
export const escapeHtml = (text: string): string => escapeHtmlText(text);

export interface PageOptions {
  status?: number;
  /** The Content-Security-Policy for this page, given its nonce. */
  csp(nonce: string): string;
  /** The whole document, given the nonce its inline `<style>`/`<script>` must carry. */
  render(nonce: string): string;
  /** Extra response headers (framing, referrer policy). */
  headers?: Record<string, string>;
}

/** Answer with an HTML page under a fresh nonce. */
export function sendPage(ctx: Context, options: PageOptions): void {
  const nonce = randomBytes(16).toString('base64');
  ctx.status = options.status ?? 200;
  ctx.type = 'html';
  ctx.set('Content-Security-Policy', options.csp(nonce));
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Cache-Control', 'no-store');
  for (const [name, value] of Object.entries(options.headers ?? {})) ctx.set(name, value);
  ctx.body = options.render(nonce);
}
