/** SDK calls scoped to one multipart upload, and the upload ids that may reach the store. */
import { isUfsError, ufsError } from '../errors';
import type { S3Context } from './s3-context';

/** Empty or missing upload ids never reach the store (an empty one would address the object). */
export function assertUploadId(uploadId: string): void {
  if (typeof uploadId !== 'string' || uploadId === '') throw ufsError('NoSuchUpload', 'the multipart upload does not exist');
}

/**
 * Runs an SDK call scoped to one upload (UploadPart, ListParts, Complete, Abort). A 404 from
 * such a call means the upload is gone, whatever code the store gives it: Ceph RGW answers
 * NoSuchKey for an aborted or unknown upload, S3 NoSuchUpload.
 */
export async function uploadCall<T>(ctx: S3Context, action: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
  try {
    return await ctx.call(action, signal, fn);
  } catch (err) {
    if (isUfsError(err, 'NotFound')) throw ufsError('NoSuchUpload', `${action}: the multipart upload does not exist`, err.cause);
    throw err;
  }
}
