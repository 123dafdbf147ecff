/**
 * HTTP plumbing of the simulator: errors that carry their status, and request bodies (no body parser is
 * installed, and WeChat's endpoints need the raw text anyway).
 */
import type { Context } from 'koa';
import type { z } from 'zod';

const BODY_LIMIT = 64 * 1024;

/** An error with its HTTP meaning; `message` is shown to the client. */
export class SimError extends Error {
  override name = 'SimError';
  readonly expose = true;
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The request body as JSON (undefined when empty); SimError 400/413 when it is not JSON or too large. */
export async function readJson(ctx: Context): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > BODY_LIMIT) throw new SimError(413, 'body too large');
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SimError(400, 'body is not JSON');
  }
}

/** The body of a WeChat API call; malformed JSON becomes a value WeChat's validation rejects (47001). */
export async function readWechatJson(ctx: Context): Promise<unknown> {
  try {
    return await readJson(ctx);
  } catch {
    return undefined;
  }
}

/** Validate a simulator API body; SimError 400 naming the first bad field. */
export function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SimError(400, `invalid body: ${issue?.path.join('.') || '(root)'} ${issue?.message ?? ''}`.trim());
  }
  return parsed.data;
}
