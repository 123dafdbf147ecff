/**
 * The simulator's use of the shared HTTP edge (`libs/http`): its JSON bodies (empty means "no fields", no
 * Content-Type required, as a test's `fetch` sends them) and the validation of its own API's bodies. Errors
 * are the edge's `httpError`, so the one error path answers them.
 */
import type { Context } from 'koa';
import type { z } from 'zod';
import { httpError, readJson as readJsonBody } from '../../libs/http/index.js';

const BODY_LIMIT = 64 * 1024;

/** The request body as JSON (undefined when empty); 400/413 when it is not JSON or too large. */
export function readJson(ctx: Context): Promise<unknown> {
  return readJsonBody(ctx, { limit: BODY_LIMIT, requireType: false, empty: 'undefined' });
}

/** The body of a WeChat API call; malformed JSON becomes a value WeChat's validation rejects (47001). */
export async function readWechatJson(ctx: Context): Promise<unknown> {
  try {
    return await readJson(ctx);
  } catch {
    return undefined;
  }
}

/** Validate a simulator API body; 400 naming the first bad field. */
export function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw httpError(400, `invalid body: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}
