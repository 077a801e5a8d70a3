/**
 * Conditional requests (RFC 7232 order, as S3 applies it): If-Match, If-Unmodified-Since,
 * If-None-Match, If-Modified-Since. The copy-source variants all fail with 412.
 */
import { s3Error } from './errors';
import { unquoteEtag } from '../../ufs-adapters/object-metadata';

interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

interface Validators {
  etag: string;
  lastModified: Date;
}

/** HTTP validators may be weak (W/"…"); S3 compares them as strong. */
const unquote = (etag: string): string => unquoteEtag(etag.trim().replace(/^W\//, ''));

export function etagMatches(list: string, etag: string): boolean {
  const wanted = unquote(etag);
  return list.split(',').some((candidate) => candidate.trim() === '*' || unquote(candidate) === wanted);
}

function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** HTTP dates have whole seconds; compare on that scale. */
const seconds = (ms: number): number => Math.floor(ms / 1000);

/** Throws PreconditionFailed (412) or NotModified (304) as GET and HEAD do. */
export function checkConditions(c: Conditions, v: Validators): void {
  const modified = seconds(v.lastModified.getTime());
  if (c.ifMatch !== undefined) {
    if (!etagMatches(c.ifMatch, v.etag)) throw s3Error('PreconditionFailed');
  } else {
    const since = parseHttpDate(c.ifUnmodifiedSince);
    if (since !== undefined && modified > seconds(since)) throw s3Error('PreconditionFailed');
  }
  if (c.ifNoneMatch !== undefined) {
    if (etagMatches(c.ifNoneMatch, v.etag)) throw s3Error('NotModified');
  } else {
    const since = parseHttpDate(c.ifModifiedSince);
    if (since !== undefined && modified <= seconds(since)) throw s3Error('NotModified');
  }
}

/** x-amz-copy-source-if-*: every failed condition is 412, as S3 answers for copies. */
export function checkCopySourceConditions(c: Conditions, v: Validators): void {
  try {
    checkConditions(c, v);
  } catch (err) {
    throw (err as { code?: string }).code === 'NotModified' ? s3Error('PreconditionFailed') : err;
  }
}
