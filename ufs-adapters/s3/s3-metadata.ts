/**
 * Object metadata <-> S3 request and response fields.
 */
import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import type { ChecksumMap, ObjectInfo, ObjectMetadata } from '../types';
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
 * The object's ACL travels as user metadata the adapter owns, `x-amz-meta-ringcache-acl`; user
 * metadata whose name starts with "ringcache-" is stored as "ringcache-u-<name>" so it can
 * never be taken for it.
 */
const ACL_KEY = 'ringcache-acl';
const INTERNAL_PREFIX = 'ringcache-';
const USER_ESCAPE = 'ringcache-u-';

/**
 * Request fields for `metadata`. Checksums are not sent: see README ("checksums"). Expires is
 * sent raw by `withRawExpires`, because the SDK only accepts a Date and would reformat it.
 */
export function metadataParams(metadata: ObjectMetadata): S3MetadataParams {
  const params: S3MetadataParams = {};
  if (metadata.contentType !== undefined) params.ContentType = metadata.contentType;
  if (metadata.contentEncoding !== undefined) params.ContentEncoding = metadata.contentEncoding;
  if (metadata.contentDisposition !== undefined) params.ContentDisposition = metadata.contentDisposition;
  if (metadata.contentLanguage !== undefined) params.ContentLanguage = metadata.contentLanguage;
  if (metadata.cacheControl !== undefined) params.CacheControl = metadata.cacheControl;
  const stored: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata.userMetadata ?? {})) stored[name.startsWith(INTERNAL_PREFIX) ? USER_ESCAPE + name : name] = value;
  if (metadata.acl !== undefined) stored[ACL_KEY] = metadata.acl;
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
  for (const [rawName, value] of Object.entries(out.Metadata ?? {})) {
    if (typeof value !== 'string') continue;
    const name = rawName.toLowerCase();
    if (name === ACL_KEY) metadata.acl = value;
    else metadata.userMetadata[name.startsWith(USER_ESCAPE) ? name.slice(USER_ESCAPE.length) : name] = value;
  }
  const checksums = checksumsOf(out);
  if (checksums) metadata.checksums = checksums;
  return metadata;
}

export function objectInfoFromHead(key: string, out: HeadObjectCommandOutput): ObjectInfo {
  return {
    key,
    size: Number(out.ContentLength ?? 0),
    etag: quoteEtag(out.ETag),
    lastModified: out.LastModified ?? new Date(0),
    ...metadataFromHead(out),
  };
}

/** `base` with what `beforeCommit` supplied late (user metadata and checksums merged). */
export { mergeMetadata } from '../object-metadata';
