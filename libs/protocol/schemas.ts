/**
 * Runtime validation of everything a browser sends. Types prove nothing about the wire.
 */
import { z } from 'zod';

/** base64url of 16 random bytes: 22 characters. */
export const ticketIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'ticket must be a 22-character id');
export const secretSchema = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'secret must be a 43-character token');

export const handshakeAuthSchema = z
  .object({
    ticket: ticketIdSchema,
    secret: secretSchema,
    version: z.number().int('version must be an integer').min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    // A Socket.IO socket id (base64id: 20 characters); bounded, whatever a future id looks like.
    replaces: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'replaces must be a socket id')
      .optional(),
  })
  .strict();

/** Handshake `auth` on `/session`: nothing (the cookie is used) or `{ token }`. */
export const sessionAuthSchema = z.object({ token: z.string().min(1).max(4096).optional() }).strict();

export const sessionRequestSchema = z
  .object({
    code: z.string().min(1).max(128),
    secret: z.string().min(1).max(128),
  })
  .strict();
