/**
 * A log destination a test can read: pass `stream` to pino or `createLogger({ destination })`, then read what
 * was written as text or as parsed JSON lines.
 */
import { Writable } from 'node:stream';

export interface LogSink {
  readonly stream: Writable;
  /** Everything written so far. */
  text(): string;
  /** Every line written so far, parsed (pino writes one JSON object per line). */
  lines(): Array<Record<string, unknown>>;
}

export function logSink(): LogSink {
  let written = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.toString();
      callback();
    },
  });
  return {
    stream,
    text: () => written,
    lines: () =>
      written
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
