/**
 * Passes exactly `expected` bytes or fails: a store stream that ends short or runs long
 * (a file appended or truncated behind our back) must break the response, never send a
 * body that disagrees with its Content-Length.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { ufsError } from '../../ufs-adapters/errors';

/** Small bodies are sent as one Buffer: a stream pipeline costs more than the bytes. */
export const SMALL_BODY_BYTES = 64 * 1024;

/** Reads a small body whole (at most `expected` bytes, which is small), checking its length. */
export async function readExactly(stream: Readable, expected: number): Promise<Buffer> {
  const out = Buffer.allocUnsafe(expected);
  let filled = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (filled + chunk.length > expected) throw ufsError('Unavailable', `the store sent more than the ${expected} bytes announced`);
      chunk.copy(out, filled);
      filled += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  if (filled !== expected) throw ufsError('Unavailable', `the store sent ${filled} of the ${expected} bytes announced`);
  return out;
}

export function exactLength(expected: number, onBytes: (n: number) => void = () => undefined): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      seen += chunk.length;
      onBytes(chunk.length);
      if (seen > expected) callback(ufsError('Unavailable', `the store sent more than the ${expected} bytes announced`));
      else callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      callback(seen === expected ? null : ufsError('Unavailable', `the store sent ${seen} of the ${expected} bytes announced`));
    },
  });
}
