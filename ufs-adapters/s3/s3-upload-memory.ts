/**
 * What this process remembers of the multipart uploads it created: the metadata given at
 * CreateMultipartUpload, and the checksums `beforeCommit` gave for each part.
 */
import { LRUCache } from 'lru-cache';
import type { ChecksumMap, ObjectMetadata } from '../types';
import { sameEtag, type S3Context } from './s3-context';

interface KnownUpload {
  key: string;
  initiated: Date;
  metadata: ObjectMetadata;
  /**
   * The checksums `beforeCommit` gave for each part, with the ETag of the part they describe
   * (a part uploaded again by another gateway replaces it in the store, not here).
   */
  parts?: Map<number, { etag: string; checksums: ChecksumMap }>;
}

/**
 * Metadata given at CreateMultipartUpload, and the parts' checksums, by upload id. S3 keeps both
 * with the upload but has no API to read the metadata back, and S3-compatible stores such as Ceph
 * RGW before 19 ignore checksum headers, so they are remembered here (bounded; lost on restart,
 * see README).
 */
export const createUploadMemory = () => new LRUCache<string, KnownUpload>({ max: 10_000, ttl: 7 * 24 * 3600_000 });
export type UploadMemory = ReturnType<typeof createUploadMemory>;

export interface MultipartContext extends S3Context {
  readonly uploads: UploadMemory;
}

export function rememberPartChecksums(ctx: MultipartContext, uploadId: string, key: string, partNumber: number, etag: string, checksums: ChecksumMap): void {
  const known = ctx.uploads.get(uploadId);
  if (!known || known.key !== key) return; // created by another gateway or before a restart: nowhere to keep them
  (known.parts ??= new Map()).set(partNumber, { etag, checksums });
}

/** The checksums remembered for a listed part, if they describe the part the store has. */
export function partChecksumsOf(ctx: MultipartContext, uploadId: string, key: string, partNumber: number, etag: string): ChecksumMap | undefined {
  const known = ctx.uploads.get(uploadId);
  const part = known && known.key === key ? known.parts?.get(partNumber) : undefined;
  return part && sameEtag(part.etag, etag) ? { ...part.checksums } : undefined;
}
