/**
 * Verifies a body against the SHA-256 declared in x-amz-content-sha256. The hash covers the whole
 * body, so bytes pass through as they arrive and a mismatch errors the stream at its end (before
 * 'end' is emitted), which makes the storage layer discard the upload.
 */
import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { s3Error } from '../errors';
import type { BodyVerifier, TrailingChecksum } from './types';

export class PayloadHashVerifier extends Transform implements BodyVerifier {
  private readonly hash = createHash('sha256');

  constructor(private readonly expectedHex: string) {
    super();
  }

  trailingChecksum(): TrailingChecksum | undefined {
    return undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual === this.expectedHex.toLowerCase()) callback();
    else callback(s3Error('XAmzContentSHA256Mismatch', `The provided 'x-amz-content-sha256' header (${this.expectedHex}) does not match what was computed (${actual}).`));
  }
}
