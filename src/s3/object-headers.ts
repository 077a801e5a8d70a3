/**
 * Object metadata <-> HTTP headers: Content-Type and friends, x-amz-meta-*, checksums.
 */
import type { FastifyRequest } from 'fastify';
import type { ChecksumAlgorithm, ObjectInfo, ObjectMetadata } from '../../ufs-adapters/types';
import { s3Error } from './errors';
import { header } from './context';
import { headerText, headerValueOf } from './header-text';

const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';
/** S3 limits user metadata (names + values) to 2 KiB. */
const MAX_USER_METADATA_BYTES = 2048;

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'];
export const checksumHeader = (alg: ChecksumAlgorithm): string => `x-amz-checksum-${alg.toLowerCase()}`;

/** Content-Encoding without the aws-chunked transfer coding, which is never stored. */
function storedContentEncoding(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const codings = value
    .split(',')
    .map((c) => c.trim())
    .filter((c) => c !== '' && c.toLowerCase() !== 'aws-chunked');
  return codings.length > 0 ? codings.join(', ') : undefined;
}

/** Metadata from a request's headers (or a POST upload's form fields, in the same shape). */
export function metadataFromHeaders(request: Pick<FastifyRequest, 'headers'>): ObjectMetadata {
  const userMetadata: Record<string, string> = {};
  let size = 0;
  for (const [name, value] of Object.entries(request.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const metaName = name.slice('x-amz-meta-'.length);
    const metaValue = headerText(Array.isArray(value) ? value.join(',') : value);
    userMetadata[metaName] = metaValue;
    size += Buffer.byteLength(metaName) + Buffer.byteLength(metaValue);
  }
  if (size > MAX_USER_METADATA_BYTES) throw s3Error('MetadataTooLarge');
  return {
    contentType: header(request, 'content-type'),
    contentEncoding: storedContentEncoding(header(request, 'content-encoding')),
    contentDisposition: header(request, 'content-disposition'),
    contentLanguage: header(request, 'content-language'),
    cacheControl: header(request, 'cache-control'),
    expires: header(request, 'expires'),
    userMetadata,
  };
}

/**
 * Headers every GET/HEAD of one version carries, as flat name/value pairs. Built once per
 * version (memoised on its ObjectInfo, which the metadata cache keeps for the version's life).
 */
const versionHeaders = new WeakMap<ObjectInfo, readonly string[]>();

export function objectHeaders(info: ObjectInfo): readonly string[] {
  let pairs = versionHeaders.get(info);
  if (pairs !== undefined) return pairs;
  const out = ['etag', info.etag, 'last-modified', info.lastModified.toUTCString(), 'content-type', info.contentType ?? DEFAULT_CONTENT_TYPE, 'accept-ranges', 'bytes'];
  if (info.contentEncoding) out.push('content-encoding', info.contentEncoding);
  if (info.contentDisposition) out.push('content-disposition', info.contentDisposition);
  if (info.contentLanguage) out.push('content-language', info.contentLanguage);
  if (info.cacheControl) out.push('cache-control', info.cacheControl);
  if (info.expires) out.push('expires', info.expires);
  for (const [name, value] of Object.entries(info.userMetadata)) out.push(`x-amz-meta-${name}`, headerValueOf(value));
  pairs = out;
  versionHeaders.set(info, pairs);
  return pairs;
}

/**
 * x-amz-checksum-* of the object's stored checksums and x-amz-checksum-type, as flat pairs: a
 * value ending in "-<N>" is the composite checksum of a multipart object (COMPOSITE), any other
 * the checksum of the whole object (FULL_OBJECT).
 */
export function checksumHeaders(info: ObjectInfo): string[] {
  const out: string[] = [];
  let type: string | undefined;
  for (const [alg, value] of Object.entries(info.checksums ?? {})) {
    out.push(checksumHeader(alg as ChecksumAlgorithm), value);
    type ??= /-\d+$/.test(value) ? 'COMPOSITE' : 'FULL_OBJECT';
  }
  if (type) out.push('x-amz-checksum-type', type);
  return out;
}

const RESPONSE_OVERRIDES: Record<string, string> = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
};

/**
 * response-* query parameters as header overrides (flat pairs; empty when none). Signed
 * requests only, as S3: on an anonymous bucket they would let anyone serve uploads as
 * text/html. Non-ASCII values go out as their UTF-8 bytes, as S3 sends them; CR or LF is refused.
 */
export function responseOverrides(query: ReadonlyMap<string, string>, signed: boolean): string[] {
  if (query.size === 0) return NO_PAIRS;
  let out: string[] | undefined;
  for (const [param, headerName] of Object.entries(RESPONSE_OVERRIDES)) {
    const value = query.get(param);
    if (value === undefined) continue;
    if (!signed) throw s3Error('InvalidRequest', 'Request specific response headers cannot be used for anonymous GET requests.');
    if (/[\r\n\0]/.test(value)) throw s3Error('InvalidArgument', `${param} must not contain line breaks`);
    (out ??= []).push(headerName, Buffer.from(value, 'utf8').toString('latin1'));
  }
  return out ?? NO_PAIRS;
}
const NO_PAIRS: string[] = [];

const MAX_KEY_BYTES = 1024;
export function assertKeyLength(key: string): void {
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw s3Error('KeyTooLongError');
}
