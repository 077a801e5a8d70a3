/**
 * Object metadata as the file-system adapters keep it beside the data (a JSON sidecar for
 * local/NFS, an extended attribute for HDFS), and the ObjectInfo of a data file: from its
 * record while the record is valid for the file, else synthetic (files written by users of
 * the file system itself, behind the gateway's back).
 */
import { createHash } from 'node:crypto';
import type { ChecksumMap, ObjectInfo, ObjectMetadata } from '../types';
import { validPartChecksums } from '../part-list-encoding';

/** The string fields of the metadata: HTTP metadata, the object's encoded ACL, a multipart upload's checksum algorithm. */
export const STRING_FIELDS = ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'expires', 'acl', 'checksumAlgorithm'] as const;

/** A stored record: the object's metadata and its quoted ETag (the rest is each adapter's). */
interface StoredMetadata extends ObjectMetadata {
  etag: string;
}

export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const stringEntries = (value: unknown): Record<string, string> =>
  isRecord(value) ? Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};

/** Client-visible metadata from untrusted JSON, keeping only well-typed known fields (no empty checksum set). */
export function parseMetadata(raw: unknown): ObjectMetadata {
  const source = isRecord(raw) ? raw : {};
  const metadata: ObjectMetadata = { userMetadata: stringEntries(source.userMetadata) };
  for (const field of STRING_FIELDS) {
    const value = source[field];
    if (typeof value === 'string') metadata[field] = value;
  }
  if (isRecord(source.checksums) && Object.keys(source.checksums).length > 0) metadata.checksums = stringEntries(source.checksums) as ChecksumMap;
  const partChecksums = validPartChecksums(source.partChecksums);
  if (partChecksums) metadata.partChecksums = partChecksums;
  return metadata;
}

/** The client-visible metadata of a record (a copy). */
function metadataOf(record: ObjectMetadata): ObjectMetadata {
  const metadata: ObjectMetadata = { userMetadata: { ...record.userMetadata } };
  for (const field of STRING_FIELDS) {
    const value = record[field];
    if (value !== undefined) metadata[field] = value;
  }
  if (record.checksums) metadata.checksums = { ...record.checksums };
  if (record.partChecksums) metadata.partChecksums = [...record.partChecksums];
  return metadata;
}

/** What the file system says of a data file. */
interface FileFacts {
  size: number;
  mtimeMs: number;
  /** The inode (local) or file id (HDFS): a file replaced by another gets a new one. */
  id: number | string | undefined;
}

/**
 * ETag of a file without a valid record: NOT a content MD5, but it changes whenever the
 * file's size, mtime or inode changes, which is what caches need.
 */
const syntheticEtag = (file: FileFacts): string => `"${createHash('md5').update(`${file.size}-${file.mtimeMs}-${file.id ?? ''}`).digest('hex')}"`;

/** ObjectInfo of a data file; `record` only when it is valid for the file as it is now. */
export function fileObjectInfo(key: string, file: FileFacts, record: (StoredMetadata & { partSizes?: number[] }) | undefined): ObjectInfo {
  const info: ObjectInfo = {
    key,
    size: file.size,
    etag: record ? record.etag : syntheticEtag(file),
    lastModified: new Date(file.mtimeMs),
    ...(record ? metadataOf(record) : { userMetadata: {} }),
  };
  if (record?.partSizes) info.partSizes = [...record.partSizes];
  return info;
}

/** ObjectInfo of a folder marker (always empty); `mtimeMs` is when it was committed. */
export const markerObjectInfo = (key: string, record: StoredMetadata, mtimeMs: number): ObjectInfo => ({
  key,
  size: 0,
  etag: record.etag,
  lastModified: new Date(mtimeMs),
  ...metadataOf(record),
});
