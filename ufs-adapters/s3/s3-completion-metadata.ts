/**
 * What a multipart completion learns too late for the store: the object's checksum (COMPOSITE
 * "<b64>-N" or FULL_OBJECT), its parts' checksums and sizes. S3 fixes an object's metadata at
 * CreateMultipartUpload and keeps no checksum the gateway computes (Ceph RGW 16 ignores checksum
 * headers altogether), so once the store has completed the object, the adapter copies that
 * version onto itself with REPLACE: the same metadata plus its reserved x-amz-meta-ringcache-*
 * entries (s3-metadata.ts). See README, "Checksums".
 *
 * The copy is pinned to the version the completion made (x-amz-copy-source-if-match): if another
 * writer replaced the object meanwhile, theirs stands and nothing is added. The object is already
 * committed when this runs, so a failed copy does not fail the completion: the object is then
 * served without a stored checksum (as one completed before this existed).
 */
import { isUfsError } from '../errors';
import type { ObjectMetadata, WriteResult } from '../types';
import { sameEtag, type S3Context } from './s3-context';
import { copyVersion } from './s3-copy';
import { mergeMetadata, metadataFromHead } from './s3-metadata';
import { headObject } from './s3-read';

/** The completed object's version after its checksums were attached (the copy's ETag), or `completed` as it was. */
export async function attachCompletionMetadata(
  ctx: S3Context,
  storeKey: string,
  completed: WriteResult,
  late: Partial<ObjectMetadata> | undefined,
  partSizes: readonly number[],
  signal: AbortSignal | undefined,
): Promise<WriteResult> {
  if (!late?.checksums || Object.keys(late.checksums).length === 0) return completed;
  try {
    const head = await headObject(ctx, storeKey, signal);
    if (!sameEtag(head.ETag, completed.etag)) return completed;
    const metadata = mergeMetadata(metadataFromHead(head), { checksums: late.checksums, partChecksums: late.partChecksums });
    const copied = await copyVersion(ctx, storeKey, storeKey, { ...head, Metadata: { ...head.Metadata } }, metadata, signal, partSizes);
    return { ...copied, size: completed.size };
  } catch (err) {
    if (isUfsError(err, 'Aborted')) throw err;
    return completed;
  }
}
