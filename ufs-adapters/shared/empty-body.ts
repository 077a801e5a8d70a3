/**
 * The body of a folder marker ("photos/"): it must be empty, and is consumed to its end so the
 * client's request completes.
 */
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ufsError } from '../errors';
import { throwIfAborted } from './abort';

/**
 * Consumes a body that must be empty; any byte is InvalidKey. `classify` turns any other
 * failure into what the adapter throws (each adapter knows its own abort errors).
 */
export async function receiveEmptyBody(body: Readable, signal: AbortSignal | undefined, classify: (err: unknown) => unknown): Promise<void> {
  throwIfAborted(signal);
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (chunk.length === 0) return callback();
      callback(ufsError('InvalidKey', "a folder key (ending in '/') must have an empty body"));
    },
  });
  try {
    await pipeline(body, sink, { signal });
  } catch (err) {
    throw classify(err);
  }
}
