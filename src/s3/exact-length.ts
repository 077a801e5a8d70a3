/**
 * Passes exactly `expected` bytes or fails: a store stream that ends short or runs long
 * (a file appended or truncated behind our back) must break the response, never send a
 * body that disagrees with its Content-Length.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { ufsError } from '../../ufs-adapters/errors';

export function exactLength(expected: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > expected) callback(ufsError('Unavailable', `the store sent more than the ${expected} bytes announced`));
      else callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      callback(seen === expected ? null : ufsError('Unavailable', `the store sent ${seen} of the ${expected} bytes announced`));
    },
  });
}
