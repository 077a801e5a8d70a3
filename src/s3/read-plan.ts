/**
 * The answer to a GetObject or HeadObject of a known version, short of its body: conditions
 * (304 / 412), the byte range (Range or partNumber; 416), the status and every object header.
 * Pure: the fastify handler and the warm-hit path both send what it returns.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ByteRange, ObjectInfo } from '../../ufs-adapters/types';
import { checkConditions } from './conditions';
import { S3Error, s3Error } from './errors';
import { checksumHeaders, objectHeaders, responseOverrides } from './object-headers';
import { contentRange, parseRange } from './range';

export interface ReadRequest {
  op: 'GetObject' | 'HeadObject';
  partNumber?: number;
  query: ReadonlyMap<string, string>;
  headers: IncomingHttpHeaders;
  signed: boolean;
}

export interface ReadPlan {
  status: 200 | 206;
  /** The bytes to send; undefined: none (HEAD, or an empty object). */
  range: ByteRange | undefined;
  /** Content-Length. */
  length: number;
  /** Object headers, overrides, Content-Length and Content-Range, as flat name/value pairs. */
  headers: string[];
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(',') : value);

/** The byte range of part `partNumber` (1-based) of an object (a single-PUT object is one part). */
function partRange(info: ObjectInfo, partNumber: number): ByteRange {
  const sizes = info.partSizes ?? [info.size];
  if (partNumber > sizes.length) throw new S3Error('InvalidRange', 'The requested partnumber is not satisfiable', { headers: { 'content-range': `bytes */${info.size}` } });
  let start = 0;
  for (let i = 0; i < partNumber - 1; i++) start += sizes[i];
  return { start, end: start + sizes[partNumber - 1] - 1 };
}

/** Where a GET will start reading, when that is known before the object's size (a plain GET or "bytes=a-"). */
export function firstByteOf(request: ReadRequest): number | undefined {
  if (request.op !== 'GetObject' || request.partNumber !== undefined) return undefined;
  const range = single(request.headers.range);
  if (range === undefined) return 0;
  const match = /^\s*bytes\s*=\s*(\d+)\s*-/i.exec(range);
  return match ? Number(match[1]) : undefined;
}

export function planRead(request: ReadRequest, info: ObjectInfo): ReadPlan {
  const { headers } = request;
  const rangeHeader = single(headers.range);
  if (request.partNumber !== undefined && rangeHeader !== undefined) {
    throw s3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  }
  if (headers['if-match'] !== undefined || headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined || headers['if-unmodified-since'] !== undefined) {
    try {
      checkConditions(
        {
          ifMatch: single(headers['if-match']),
          ifNoneMatch: single(headers['if-none-match']),
          ifModifiedSince: single(headers['if-modified-since']),
          ifUnmodifiedSince: single(headers['if-unmodified-since']),
        },
        info,
      );
    } catch (err) {
      // A 304 (and a 412) still tells caches which version they hold.
      if (err instanceof S3Error) throw new S3Error(err.code, err.message, { headers: { etag: info.etag, 'last-modified': info.lastModified.toUTCString() } });
      throw err;
    }
  }
  let range: ByteRange | undefined;
  if (request.partNumber !== undefined) range = info.size === 0 ? undefined : partRange(info, request.partNumber);
  else range = parseRange(rangeHeader, info.size);
  const length = range ? range.end - range.start + 1 : info.size;

  const out = objectHeaders(info).slice();
  if (range === undefined && single(headers['x-amz-checksum-mode'])?.toUpperCase() === 'ENABLED') out.push(...checksumHeaders(info));
  if (request.op === 'GetObject') {
    // Overrides replace the object's own header of that name.
    const overrides = responseOverrides(request.query, request.signed);
    for (let i = 0; i < overrides.length; i += 2) {
      for (let at = 0; at < out.length; at += 2) {
        if (out[at] === overrides[i]) {
          out.splice(at, 2);
          break;
        }
      }
      out.push(overrides[i], overrides[i + 1]);
    }
  }
  if (request.partNumber !== undefined) out.push('x-amz-mp-parts-count', String(info.partSizes?.length ?? 1));
  out.push('content-length', String(length));
  if (range) out.push('content-range', contentRange(range, info.size));
  const bytes = request.op === 'GetObject' && length > 0 ? (range ?? { start: 0, end: info.size - 1 }) : undefined;
  return { status: range ? 206 : 200, range: bytes, length, headers: out };
}
