/**
 * The few pages the provider itself shows a browser: an error (unknown client, unregistered redirect URI,
 * broken request), the RP-initiated logout question and its success, and the "this sign-in expired" page
 * that starts over. Plain HTML, no scripts, nothing from other origins; every value is escaped.
 */

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const CSS = `:root{color-scheme:light dark}body{font:16px/1.5 system-ui,sans-serif;margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f2f3f5;color:#1d1d1f}
@media (prefers-color-scheme:dark){body{background:#111113;color:#f5f5f7}main{background:#2c2c2e!important}}
main{background:#fff;border-radius:20px;padding:28px 24px;max-width:420px;width:100%;box-shadow:0 8px 32px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin:0 0 12px}code{word-break:break-all}button,.button{display:inline-block;font:inherit;padding:10px 16px;border-radius:10px;border:0;background:#07c160;color:#fff;text-decoration:none;cursor:pointer;margin:4px 8px 4px 0}
button.secondary{background:#8e8e93}`;

/** The page shell with a strict policy: no scripts at all, styles only from this response. */
export const OIDC_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The logout question's policy: its form posts to the provider, which then redirects to the client's
 * post-logout URI, and browsers apply `form-action` to that redirect too, so it is left out here.
 */
export const OIDC_LOGOUT_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${CSS}</style></head><body><main>${body}</main></body></html>`;
}

/** An OAuth error that must not be redirected (the client or its redirect URI is not trusted). */
export function errorPage(out: { error?: string; error_description?: string }): string {
  const error = out.error ?? 'server_error';
  const description = out.error_description ?? 'The sign-in request could not be processed.';
  return page(
    'Sign-in failed',
    `<h1>Sign-in failed</h1><p>${escapeHtml(description)}</p><p><code>${escapeHtml(error)}</code></p><p>Go back to the site you came from and try again.</p>`,
  );
}

/** RP-initiated logout: `form` is oidc-provider's hidden form (id `op.logoutForm`, with its own xsrf token). */
export function logoutPage(host: string, form: string): string {
  return page(
    'Sign out',
    `<h1>Sign out of ${escapeHtml(host)}?</h1>${form}<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button><button class="secondary" type="submit" form="op.logoutForm">No, stay signed in</button>`,
  );
}

export function logoutSuccessPage(clientName: string | undefined): string {
  return page('Signed out', `<h1>Signed out</h1><p>You signed out${clientName !== undefined ? ` of ${escapeHtml(clientName)}` : ''}.</p>`);
}

/**
 * The interaction is gone (expired, already finished, or opened without its cookie). With the original
 * authorization request at hand, one click starts a fresh one; the provider re-validates it entirely.
 */
export function interactionExpiredPage(restartUrl: string | undefined): string {
  const action =
    restartUrl !== undefined
      ? `<p><a class="button" id="start-over" href="${escapeHtml(restartUrl)}">Start over</a></p>`
      : '<p>Go back to the site you came from and sign in again.</p>';
  return page(
    'Sign-in expired',
    `<h1>This sign-in has expired</h1><p>The QR code page was open too long, or was already used.</p>${action}`,
  );
}
