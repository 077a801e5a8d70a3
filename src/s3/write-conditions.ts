/**
 * Conditional writes: If-None-Match: * (create only if absent) and If-Match: "etag"
 * (replace only that version), on PutObject, CopyObject and CompleteMultipartUpload.
 * Checked against the store just before the write. The check and the commit are two steps,
 * so two writers racing within that window can both pass: documented in the README.
 */
import type { FastifyRequest } from 'fastify';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { isUfsError } from '../../ufs-adapters/errors';
import { etagMatches } from './conditions';
import { header } from './context';
import { s3Error } from './errors';

export async function checkWriteConditions(request: FastifyRequest, adapter: UfsAdapter, key: string, signal?: AbortSignal): Promise<void> {
  const ifNoneMatch = header(request, 'if-none-match');
  const ifMatch = header(request, 'if-match');
  if (ifNoneMatch === undefined && ifMatch === undefined) return;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw s3Error('NotImplemented', 'If-None-Match on writes supports only "*".');
  }
  let etag: string | undefined;
  try {
    etag = (await adapter.stat(key, signal)).etag;
  } catch (err) {
    if (!isUfsError(err, 'NotFound')) throw err;
  }
  if (ifNoneMatch !== undefined && etag !== undefined) throw s3Error('PreconditionFailed');
  if (ifMatch !== undefined) {
    if (etag === undefined) throw s3Error('NoSuchKey');
    if (!etagMatches(ifMatch, etag)) throw s3Error('PreconditionFailed');
  }
}
