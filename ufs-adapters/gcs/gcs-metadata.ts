/**
 * ObjectMetadata <-> GCS object resource.
 *
 * - Content-Type, -Encoding, -Disposition, -Language and Cache-Control map to the resource
 *   fields of the same name.
 * - User metadata (x-amz-meta-*) is the resource's custom `metadata`, names as given
 *   (lower-cased on the way out). Names that start with "ringcache-" are stored as
 *   "ringcache-u-<name>" so they never collide with the adapter's own keys:
 *     ringcache-etag          S3 ETag of a multipart (composed) object
 *     ringcache-part-sizes    part sizes of a multipart object, run-length encoded
 *     ringcache-part-checksums  part checksums of a COMPOSITE multipart object, comma-separated
 *                             (left out when longer than MAX_PART_CHECKSUMS_CHARS)
 *     ringcache-expires       the raw Expires header (GCS has no such field)
 *     ringcache-checksum-<a>  S3 checksums (x-amz-checksum-<a>), base64
 *     ringcache-acl           the object's ACL, as the S3 layer encodes it
 */
import type { FileMetadata } from '@google-cloud/storage';
import { isChecksumAlgorithm, type ChecksumMap, type ObjectInfo, type ObjectMetadata } from '../types';
import { decodePartChecksums, decodePartSizes, encodePartChecksums } from '../part-list-encoding';

const INTERNAL_PREFIX = 'ringcache-';
const USER_ESCAPE = 'ringcache-u-';
export const ETAG_KEY = 'ringcache-etag';
export const PART_SIZES_KEY = 'ringcache-part-sizes';
const EXPIRES_KEY = 'ringcache-expires';
const ACL_KEY = 'ringcache-acl';
const CHECKSUM_PREFIX = 'ringcache-checksum-';
/** Longest RLE part-size list stored (GCS allows 8 KiB of custom metadata in total). */
export const MAX_PART_SIZES_CHARS = 4096;
const PART_CHECKSUMS_KEY = 'ringcache-part-checksums';
/** Longest part-checksum list stored: 66 SHA-256 parts, 341 CRC32 parts. */
const MAX_PART_CHECKSUMS_CHARS = 3000;
/** GCS's own default, used when the client gave none (so the library does not guess one from the name). */
export const DEFAULT_GCS_CONTENT_TYPE = 'application/octet-stream';

const HTTP_FIELDS = ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl'] as const;

/** The writable part of an object resource, as the adapter sends it. */
export interface GcsResource {
  contentType?: string | null;
  contentEncoding?: string | null;
  contentDisposition?: string | null;
  contentLanguage?: string | null;
  cacheControl?: string | null;
  metadata?: Record<string, string | null>;
}

/** Internal custom-metadata entries (ETag, part sizes) of an existing object, to carry over on copy. */
export function internalEntries(resource: FileMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(resource.metadata ?? {})) {
    if ((name === ETAG_KEY || name === PART_SIZES_KEY) && typeof value === 'string') out[name] = value;
  }
  return out;
}

/**
 * The resource for `metadata`. With `explicitNulls`, absent HTTP fields are sent as null and
 * custom keys of `previous` that are not kept are nulled, so the result is the same whether
 * the server applies the body as a replacement or as a patch of the source's metadata.
 */
export function toResource(
  metadata: ObjectMetadata,
  internal: Record<string, string> = {},
  options: { explicitNulls?: boolean; previous?: FileMetadata } = {},
): GcsResource {
  const resource: GcsResource = {};
  for (const field of HTTP_FIELDS) {
    const value = metadata[field];
    if (value !== undefined) resource[field] = value;
    else if (options.explicitNulls && field !== 'contentType') resource[field] = null;
  }
  resource.contentType = metadata.contentType ?? DEFAULT_GCS_CONTENT_TYPE;
  const custom: Record<string, string | null> = {};
  for (const name of Object.keys(options.previous?.metadata ?? {})) custom[name] = null;
  for (const [name, value] of Object.entries(metadata.userMetadata)) {
    custom[name.startsWith(INTERNAL_PREFIX) ? USER_ESCAPE + name : name] = value;
  }
  if (metadata.expires !== undefined) custom[EXPIRES_KEY] = metadata.expires;
  if (metadata.acl !== undefined) custom[ACL_KEY] = metadata.acl;
  for (const [alg, value] of Object.entries(metadata.checksums ?? {})) {
    if (value !== undefined) custom[CHECKSUM_PREFIX + alg.toLowerCase()] = value;
  }
  const partChecksums = metadata.partChecksums ? encodePartChecksums(metadata.partChecksums) : undefined;
  if (partChecksums !== undefined && partChecksums.length <= MAX_PART_CHECKSUMS_CHARS) custom[PART_CHECKSUMS_KEY] = partChecksums;
  Object.assign(custom, internal);
  if (!options.explicitNulls) {
    for (const [name, value] of Object.entries(custom)) if (value === null) delete custom[name];
  }
  if (Object.keys(custom).length > 0) resource.metadata = custom;
  return resource;
}

export { mergeMetadata } from '../object-metadata';

const base64ToHex = (value: string): string => Buffer.from(value, 'base64').toString('hex');

/**
 * The S3 ETag of an object:
 * 1. `"<md5 hex>"` from md5Hash (every non-composite object);
 * 2. composite objects (no md5Hash) the gateway assembled: the S3 multipart ETag it stored
 *    in `ringcache-etag` at compose time;
 * 3. other composite objects: `"<crc32c hex>-<componentCount>"`;
 * 4. anything else (e.g. customer-encrypted objects without md5Hash): `"<generation>"`.
 */
export function etagOf(resource: FileMetadata): string {
  if (typeof resource.md5Hash === 'string' && resource.md5Hash !== '') return `"${base64ToHex(resource.md5Hash)}"`;
  const stored = resource.metadata?.[ETAG_KEY];
  if (typeof stored === 'string' && /^"[0-9a-f]{32}-\d+"$/.test(stored)) return stored;
  if (resource.componentCount !== undefined && typeof resource.crc32c === 'string') {
    return `"${base64ToHex(resource.crc32c)}-${resource.componentCount}"`;
  }
  return `"${resource.generation ?? 'unknown'}"`;
}

export const md5Etag = (md5: Buffer): string => `"${md5.toString('hex')}"`;

export function objectInfoOf(key: string, resource: FileMetadata): ObjectInfo {
  const userMetadata: Record<string, string> = {};
  const checksums: ChecksumMap = {};
  let expires: string | undefined;
  let acl: string | undefined;
  let partChecksums: string[] | undefined;
  for (const [rawName, value] of Object.entries(resource.metadata ?? {})) {
    if (value === null || value === undefined) continue;
    const name = rawName.toLowerCase();
    const text = String(value);
    if (name.startsWith(USER_ESCAPE)) userMetadata[name.slice(USER_ESCAPE.length)] = text;
    else if (name === EXPIRES_KEY) expires = text;
    else if (name === ACL_KEY) acl = text;
    else if (name === PART_CHECKSUMS_KEY) partChecksums = decodePartChecksums(text);
    else if (name.startsWith(CHECKSUM_PREFIX)) {
      const alg = name.slice(CHECKSUM_PREFIX.length).toUpperCase();
      if (isChecksumAlgorithm(alg)) checksums[alg] = text;
    } else if (!name.startsWith(INTERNAL_PREFIX)) userMetadata[name] = text;
  }
  const info: ObjectInfo = {
    key,
    size: Number(resource.size ?? 0),
    etag: etagOf(resource),
    lastModified: new Date(resource.updated ?? resource.timeCreated ?? 0),
    userMetadata,
  };
  for (const field of HTTP_FIELDS) {
    const value = resource[field];
    if (typeof value === 'string' && value !== '') info[field] = value;
  }
  if (expires !== undefined) info.expires = expires;
  if (acl !== undefined) info.acl = acl;
  if (Object.keys(checksums).length > 0) info.checksums = checksums;
  if (partChecksums) info.partChecksums = partChecksums;
  if (resource.componentCount !== undefined && !resource.md5Hash) {
    const partSizes = decodePartSizes(resource.metadata?.[PART_SIZES_KEY]);
    if (partSizes && partSizes.reduce((a, b) => a + b, 0) === info.size) info.partSizes = partSizes;
  }
  return info;
}
