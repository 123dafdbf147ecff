/**
 * Where the confirmation link points: the gateway's public origin, keeping a path it is published under.
 */
import { describe, expect, it } from 'vitest';
import { confirmationUrl, newTicketId } from '../../libs/ticket/index.js';

const SECRET = 'a-secret-of-at-least-16-characters';

describe('confirmationUrl', () => {
  const claims = { ticketId: newTicketId(), openid: 'o_link', expiresAt: Date.now() + 60_000 };

  it('points at /confirm on the public origin', () => {
    const url = new URL(confirmationUrl('https://login.example', claims, SECRET));
    expect(url.origin + url.pathname).toBe('https://login.example/confirm');
  });

  it('keeps the path prefix a gateway is published under, with or without a trailing slash', () => {
    for (const base of ['https://example.com/login', 'https://example.com/login/']) {
      expect(new URL(confirmationUrl(base, claims, SECRET)).pathname).toBe('/login/confirm');
    }
  });
});
