/**
 * Small metadata helpers every adapter needs, in one place.
 */
import { createHash } from 'node:crypto';
import type { CopyRequest, ObjectMetadata } from './types';

/** The ETag S3 gives a body whose MD5 is `hex`: the hex digest in quotes. */
export const quotedEtag = (hex: string): string => `"${hex}"`;

/** The ETag of an empty object (a folder marker). */
export const EMPTY_MD5_ETAG = quotedEtag(createHash('md5').digest('hex'));

/** An ETag without its surrounding quotes (and surrounding white space). */
export const unquoteEtag = (etag: string): string => etag.trim().replace(/^"(.*)"$/, '$1');

/** Merges what `beforeCommit` returned into the metadata given at the start of a write. */
export function mergeMetadata(base: ObjectMetadata, late: Partial<ObjectMetadata> | void | undefined): ObjectMetadata {
  if (!late) return base;
  return {
    ...base,
    ...late,
    userMetadata: { ...base.userMetadata, ...late.userMetadata },
    checksums: base.checksums || late.checksums ? { ...base.checksums, ...late.checksums } : undefined,
  };
}

/**
 * The metadata of a copy's destination: the source's (COPY), or the request's (REPLACE), which
 * keeps the source's checksums (and with them its part checksums) unless it names others.
 */
export function copyDestinationMetadata(request: CopyRequest, source: ObjectMetadata): ObjectMetadata {
  if (!request.metadata) return source;
  const own = request.metadata.checksums !== undefined;
  return { ...request.metadata, checksums: own ? request.metadata.checksums : source.checksums, partChecksums: own ? request.metadata.partChecksums : source.partChecksums };
}
