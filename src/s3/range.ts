/**
 * The Range header: "bytes=a-b", "bytes=a-", "bytes=-n". Syntax S3 does not serve
 * (several ranges, other units, garbage) is ignored as RFC 9110 allows: the whole object.
 */
import type { ByteRange } from '../../ufs-adapters/types';
import { S3Error } from './errors';

export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [, first, last] = match;
  let range: ByteRange;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw unsatisfiable(size);
    range = { start: Math.max(0, size - suffix), end: size - 1 };
  } else {
    const start = Number(first);
    const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== '' && Number(last) < start) return undefined;
    range = { start, end };
  }
  if (range.start >= size) throw unsatisfiable(size);
  return range;
}

const unsatisfiable = (size: number): S3Error =>
  new S3Error('InvalidRange', undefined, { headers: { 'content-range': `bytes */${size}` } });

export const contentRange = (range: ByteRange, size: number): string => `bytes ${range.start}-${range.end}/${size}`;
