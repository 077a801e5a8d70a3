/**
 * Object metadata <-> S3 request and response fields.
 */
import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import type { ChecksumAlgorithm, ChecksumMap, ObjectInfo, ObjectMetadata } from '../types';
import { decodePartChecksums, decodePartSizes, encodePartChecksums, encodePartSizes } from '../part-list-encoding';
import { quoteEtag } from './s3-context';

/** The request fields PutObject, CreateMultipartUpload and CopyObject (REPLACE) share. */
interface S3MetadataParams {
  ContentType?: string;
  ContentEncoding?: string;
  ContentDisposition?: string;
  ContentLanguage?: string;
  CacheControl?: string;
  Metadata?: Record<string, string>;
}

/**
 * What S3 cannot keep for us travels as user metadata the adapter owns (README, "Checksums"):
 *   x-amz-meta-ringcache-acl               the object's ACL
 *   x-amz-meta-ringcache-checksum-<alg>    the object's checksum (a composite one "<b64>-N")
 *   x-amz-meta-ringcache-part-sizes        a multipart object's part sizes, run-length encoded
 *   x-amz-meta-ringcache-part-checksums    a COMPOSITE object's part checksums, comma-separated
 * User metadata whose name starts with "ringcache-" is stored as "ringcache-u-<name>" so it can
 * never be taken for them, and clients never see these names.
 */
const ACL_KEY = 'ringcache-acl';
const INTERNAL_PREFIX = 'ringcache-';
const USER_ESCAPE = 'ringcache-u-';
const CHECKSUM_PREFIX = 'ringcache-checksum-';
const PART_SIZES_KEY = 'ringcache-part-sizes';
const PART_CHECKSUMS_KEY = 'ringcache-part-checksums';
const ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
/** AWS S3 allows 2 KB of user metadata (names and values); the part lists stay out past that. */
const USER_METADATA_BUDGET = 2048;

const metadataBytes = (stored: Record<string, string>): number =>
  Object.entries(stored).reduce((sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);

/**
 * Request fields for `metadata` (with `partSizes` for the object a multipart completion made).
 * Expires is sent raw by `withRawExpires`, because the SDK only accepts a Date and would reformat
 * it. The part lists are left out, part checksums first, when they would exceed S3's budget.
 */
export function metadataParams(metadata: ObjectMetadata, partSizes?: readonly number[]): S3MetadataParams {
  const params: S3MetadataParams = {};
  if (metadata.contentType !== undefined) params.ContentType = metadata.contentType;
  if (metadata.contentEncoding !== undefined) params.ContentEncoding = metadata.contentEncoding;
  if (metadata.contentDisposition !== undefined) params.ContentDisposition = metadata.contentDisposition;
  if (metadata.contentLanguage !== undefined) params.ContentLanguage = metadata.contentLanguage;
  if (metadata.cacheControl !== undefined) params.CacheControl = metadata.cacheControl;
  const stored: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata.userMetadata ?? {})) stored[name.startsWith(INTERNAL_PREFIX) ? USER_ESCAPE + name : name] = value;
  if (metadata.acl !== undefined) stored[ACL_KEY] = metadata.acl;
  for (const alg of ALGORITHMS) {
    const value = metadata.checksums?.[alg];
    if (value !== undefined) stored[CHECKSUM_PREFIX + alg.toLowerCase()] = value;
  }
  const lists: Array<[string, string | undefined]> = [
    [PART_SIZES_KEY, partSizes && partSizes.length > 0 ? encodePartSizes(partSizes) : undefined],
    [PART_CHECKSUMS_KEY, metadata.partChecksums ? encodePartChecksums(metadata.partChecksums) : undefined],
  ];
  for (const [name, value] of lists) {
    if (value !== undefined && metadataBytes(stored) + Buffer.byteLength(name) + value.length <= USER_METADATA_BUDGET) stored[name] = value;
  }
  if (Object.keys(stored).length > 0) params.Metadata = stored;
  return params;
}

interface CommandWithStack {
  middlewareStack: {
    add(
      middleware: (next: (args: { request: unknown }) => Promise<unknown>) => (args: { request: unknown }) => Promise<unknown>,
      options: { step: 'build'; name?: string },
    ): void;
  };
}

/** Sends `expires` as the raw Expires header of `command` (no-op when undefined). */
export function withRawExpires<C>(command: C, expires: string | undefined): C {
  return withHeader(command, 'expires', expires, 'ringcacheRawExpires');
}

/** Adds the header `name: value` to the request of `command` (no-op when `value` is undefined). */
export function withHeader<C>(command: C, name: string, value: string | undefined, middlewareName = `ringcacheHeader:${name}`): C {
  if (value === undefined) return command;
  (command as unknown as CommandWithStack).middlewareStack.add(
    (next) => async (args) => {
      if (HttpRequest.isInstance(args.request)) args.request.headers[name] = value;
      return next(args);
    },
    { step: 'build', name: middlewareName },
  );
  return command;
}

type HeadFields = Pick<
  HeadObjectCommandOutput,
  | 'ContentType'
  | 'ContentEncoding'
  | 'ContentDisposition'
  | 'ContentLanguage'
  | 'CacheControl'
  | 'Expires'
  | 'ExpiresString'
  | 'Metadata'
  | 'ChecksumCRC32'
  | 'ChecksumCRC32C'
  | 'ChecksumCRC64NVME'
  | 'ChecksumSHA1'
  | 'ChecksumSHA256'
>;

/** Full-object checksums only: composite multipart values ("…-N") describe parts, not the bytes. */
function checksumsOf(out: HeadFields): ChecksumMap | undefined {
  const map: ChecksumMap = {};
  const add = (alg: keyof ChecksumMap, value: string | undefined) => {
    if (value && !/-\d+$/.test(value)) map[alg] = value;
  };
  add('CRC32', out.ChecksumCRC32);
  add('CRC32C', out.ChecksumCRC32C);
  add('CRC64NVME', out.ChecksumCRC64NVME);
  add('SHA1', out.ChecksumSHA1);
  add('SHA256', out.ChecksumSHA256);
  return Object.keys(map).length > 0 ? map : undefined;
}

export function metadataFromHead(out: HeadFields): ObjectMetadata {
  const metadata: ObjectMetadata = { userMetadata: {} };
  if (out.ContentType) metadata.contentType = out.ContentType;
  if (out.ContentEncoding) metadata.contentEncoding = out.ContentEncoding;
  if (out.ContentDisposition) metadata.contentDisposition = out.ContentDisposition;
  if (out.ContentLanguage) metadata.contentLanguage = out.ContentLanguage;
  if (out.CacheControl) metadata.cacheControl = out.CacheControl;
  const expires = out.ExpiresString ?? (out.Expires instanceof Date && !Number.isNaN(out.Expires.getTime()) ? out.Expires.toUTCString() : undefined);
  if (expires) metadata.expires = expires;
  const ours: ChecksumMap = {};
  for (const [rawName, value] of Object.entries(out.Metadata ?? {})) {
    if (typeof value !== 'string') continue;
    const name = rawName.toLowerCase();
    if (name === ACL_KEY) metadata.acl = value;
    else if (name.startsWith(CHECKSUM_PREFIX)) {
      const alg = name.slice(CHECKSUM_PREFIX.length).toUpperCase() as ChecksumAlgorithm;
      if (ALGORITHMS.includes(alg)) ours[alg] = value;
    } else if (name === PART_CHECKSUMS_KEY) {
      const sums = decodePartChecksums(value);
      if (sums) metadata.partChecksums = sums;
    } else if (name !== PART_SIZES_KEY) metadata.userMetadata[name.startsWith(USER_ESCAPE) ? name.slice(USER_ESCAPE.length) : name] = value;
  }
  const checksums = { ...checksumsOf(out), ...ours };
  if (Object.keys(checksums).length > 0) metadata.checksums = checksums;
  return metadata;
}

/** The part sizes the adapter stored with a multipart object, when they add up to its size. */
export function partSizesFromHead(out: Pick<HeadObjectCommandOutput, 'Metadata'>, size: number): number[] | undefined {
  const sizes = decodePartSizes(out.Metadata?.[PART_SIZES_KEY]);
  return sizes && sizes.reduce((sum, n) => sum + n, 0) === size ? sizes : undefined;
}

export function objectInfoFromHead(key: string, out: HeadObjectCommandOutput): ObjectInfo {
  const size = Number(out.ContentLength ?? 0);
  const info: ObjectInfo = { key, size, etag: quoteEtag(out.ETag), lastModified: out.LastModified ?? new Date(0), ...metadataFromHead(out) };
  const partSizes = partSizesFromHead(out, size);
  if (partSizes) info.partSizes = partSizes;
  return info;
}

/** `base` with what `beforeCommit` supplied late (user metadata and checksums merged). */
export { mergeMetadata } from '../object-metadata';
