/**
 * AWS Signature Version 2: `Authorization: AWS <key>:<signature>` and presigned URLs with
 * `AWSAccessKeyId`, `Expires` and `Signature`. The signature is base64(HMAC-SHA1(secret,
 * StringToSign)) where
 *
 *   StringToSign = Verb \n Content-MD5 \n Content-Type \n Date-or-Expires \n
 *                  CanonicalizedAmzHeaders CanonicalizedResource
 *
 * CanonicalizedAmzHeaders: every x-amz-* header, name lower-cased, sorted, repeated values joined
 * with ',', each `name:value\n`. CanonicalizedResource: `/bucket` when the bucket came from the
 * Host (virtual-hosted style), the path as sent, then the sub-resources S3 signs (below), sorted
 * by name, with their decoded values. A header-signed request that carries x-amz-date signs an
 * empty Date line; a presigned one signs its Expires value there.
 *
 * SigV2 never signs the body: the payload is taken as unsigned (Content-MD5, when sent, is still
 * verified against the body by the upload path).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { s3Error } from '../errors';
import { parseHttpDate, parseAmzDate } from './amz-date';
import { H_AMZ_DATE, H_DATE, MAX_CLOCK_SKEW_MS } from './constants';
import { headerValue, type HeaderRecord } from './http-headers';
import { paramName, type RawQueryParam } from './raw-url';
import type { AuthResult, SecretLookup } from './types';

/**
 * Query parameters that are part of the CanonicalizedResource: the sub-resources of the S3
 * documentation, the response-* overrides, and those the SDKs' SigV2 signers add (botocore's
 * HmacV1Auth, s3cmd).
 */
const SIGV2_SUBRESOURCES: ReadonlySet<string> = new Set([
  'accelerate', 'acl', 'analytics', 'cors', 'defaultObjectAcl', 'delete', 'inventory', 'lifecycle', 'location',
  'logging', 'metrics', 'notification', 'object-lock', 'partNumber', 'policy', 'replication', 'requestPayment',
  'restore', 'select', 'select-type', 'storageClass', 'tagging', 'torrent', 'uploadId', 'uploads', 'versionId',
  'versioning', 'versions', 'website',
  'response-cache-control', 'response-content-disposition', 'response-content-encoding', 'response-content-language',
  'response-content-type', 'response-expires',
]);

const Q_V2_ACCESS_KEY = 'AWSAccessKeyId';
const Q_V2_SIGNATURE = 'Signature';
const Q_V2_EXPIRES = 'Expires';

export interface SigV2Request {
  method: string;
  rawPath: string;
  params: readonly RawQueryParam[];
  headers: HeaderRecord;
  /** The bucket named by the Host header (virtual-hosted style), if any. */
  hostBucket: string | undefined;
  now: Date;
}

/** Whether the query carries SigV2 query authentication (or an attempt at it). */
export function hasSigV2Query(params: readonly RawQueryParam[]): boolean {
  return params.some((p) => {
    const name = paramName(p);
    return name === Q_V2_ACCESS_KEY || name === Q_V2_SIGNATURE;
  });
}

/** Whether an Authorization header is SigV2 ('AWS key:signature'). */
export const isSigV2Header = (authorization: string): boolean => /^\s*AWS\s/.test(authorization);

/** A string whose characters are bytes (latin1), so HMAC sees exactly the bytes the client signed. */
const utf8Bytes = (text: string): string => (/[^\x00-\x7f]/.test(text) ? Buffer.from(text, 'utf8').toString('latin1') : text);

/**
 * The CanonicalizedResource. The path is the raw path as sent (SigV2 clients sign the path they
 * send); sub-resource values are percent-decoded, as S3 and botocore canonicalise them.
 */
export function canonicalResource(rawPath: string, params: readonly RawQueryParam[], hostBucket: string | undefined): string {
  const prefix = hostBucket === undefined ? '' : `/${hostBucket}`;
  const subresources: [string, string | undefined][] = [];
  for (const p of params) {
    const name = paramName(p);
    if (!SIGV2_SUBRESOURCES.has(name)) continue;
    // '?uploads' and '?uploads=' both sign as 'uploads', as the S3 documentation's examples do.
    const value = p.value ?? p.rawValue;
    subresources.push([name, value === '' ? undefined : utf8Bytes(value)]);
  }
  if (subresources.length === 0) return prefix + rawPath;
  subresources.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `${prefix}${rawPath}?${subresources.map(([n, v]) => (v === undefined ? n : `${n}=${v}`)).join('&')}`;
}

/** CanonicalizedAmzHeaders: x-amz-* headers (and, for presigned URLs, x-amz-* query parameters not sent as headers). */
export function canonicalAmzHeaders(headers: HeaderRecord, queryAmz: ReadonlyMap<string, string> = new Map()): string {
  const values = new Map<string, string>();
  for (const name in headers) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-')) continue;
    const value = headers[name];
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    values.set(lower, list.map(unfold).join(','));
  }
  for (const [name, value] of queryAmz) if (!values.has(name)) values.set(name, utf8Bytes(unfold(value)));
  const names = [...values.keys()].sort();
  return names.map((n) => `${n}:${values.get(n)}\n`).join('');
}

/** Folded or padded header values: line breaks with their surrounding space become one space; ends trimmed. */
const unfold = (value: string): string => value.replace(/\s*\r?\n\s*/g, ' ').trim();

function stringToSign(parts: { method: string; contentMd5: string; contentType: string; date: string; amzHeaders: string; resource: string }): string {
  return `${parts.method}\n${parts.contentMd5}\n${parts.contentType}\n${parts.date}\n${parts.amzHeaders}${parts.resource}`;
}

/** base64(HMAC-SHA1(secret, stringToSign)), the string taken as bytes (latin1). */
export function signV2(secretAccessKey: string, toSign: string): string {
  return createHmac('sha1', secretAccessKey).update(Buffer.from(toSign, 'latin1')).digest('base64');
}

/**
 * Checks the signature over each candidate string-to-sign (constant-time per candidate). Throws
 * SignatureDoesNotMatch when none matches.
 */
function verify(secretAccessKey: string, candidates: readonly string[], provided: string): void {
  const given = Buffer.from(provided, 'latin1');
  for (const toSign of candidates) {
    const computed = Buffer.from(signV2(secretAccessKey, toSign), 'latin1');
    if (computed.length === given.length && timingSafeEqual(computed, given)) return;
  }
  throw s3Error('SignatureDoesNotMatch');
}

/**
 * The resources a client may have signed. Besides the canonical one, two forms botocore's SigV2
 * signer (HmacV1Auth) produces against a custom endpoint:
 * - a path-style bucket request without sub-resources ("/bucket?prefix=a") signed as "/bucket/";
 * - an operation whose URI carries a fixed sub-resource ("?uploads", "?acl", "?delete", "?cors")
 *   signed with that sub-resource twice ("/bucket/key?uploads?uploads"): the signer's resource
 *   path already holds it when the query's sub-resources are appended.
 * Each still covers the method, path and sub-resources of the request.
 */
function resources(request: SigV2Request): string[] {
  const { rawPath, params, hostBucket } = request;
  const resource = canonicalResource(rawPath, params, hostBucket);
  const out = [resource];
  if (hostBucket === undefined && rawPath.length > 1 && !rawPath.includes('/', 1) && resource === rawPath) out.push(`${rawPath}/`);
  const first = params[0];
  if (first !== undefined && first.rawValue === '' && SIGV2_SUBRESOURCES.has(paramName(first))) {
    const path = hostBucket === undefined ? rawPath : `/${hostBucket}${rawPath}`;
    out.push(`${path}?${paramName(first)}${resource.slice(path.length)}`);
  }
  return out;
}

function secretOf(accessKeyId: string, lookupSecret: SecretLookup): string {
  const secret = lookupSecret(accessKeyId);
  if (secret === undefined) throw s3Error('InvalidAccessKeyId');
  return secret;
}

/** SigV2 bodies are never signed; a streaming SigV4 payload declaration makes no sense with them. */
const UNSIGNED: AuthResult['payload'] = { kind: 'unsigned' };

/** Verifies `Authorization: AWS key:signature`. */
export function authenticateSigV2Header(request: SigV2Request, authorization: string, lookupSecret: SecretLookup): AuthResult {
  const m = /^\s*AWS\s+([^:\s]+):(\S+)\s*$/.exec(authorization);
  if (!m) throw s3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature');
  const [, accessKeyId, signature] = m;
  const secret = secretOf(accessKeyId, lookupSecret);
  const { headers } = request;
  const amzDate = headerValue(headers, H_AMZ_DATE);
  const dateHeader = headerValue(headers, H_DATE);
  const when = amzDate !== undefined ? (parseHttpDate(amzDate) ?? parseAmzDate(amzDate.trim())) : dateHeader === undefined ? undefined : parseHttpDate(dateHeader);
  if (!when) throw s3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  if (Math.abs(request.now.getTime() - when.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw s3Error('RequestTimeTooSkewed', `The difference between the request time (${when.toISOString()}) and the server time (${request.now.toISOString()}) is too large.`);
  }
  const parts = {
    method: request.method.toUpperCase(),
    contentMd5: headerValue(headers, 'content-md5')?.trim() ?? '',
    contentType: headerValue(headers, 'content-type')?.trim() ?? '',
    // With x-amz-date the Date line is empty (x-amz-date is among the amz headers).
    date: amzDate !== undefined ? '' : (dateHeader ?? '').trim(),
    amzHeaders: canonicalAmzHeaders(headers),
  };
  verify(secret, resources(request).map((resource) => stringToSign({ ...parts, resource })), signature);
  return { kind: 'signed', accessKeyId, payload: UNSIGNED };
}

/** Verifies a presigned SigV2 URL (AWSAccessKeyId, Expires, Signature). */
export function authenticateSigV2Query(request: SigV2Request, lookupSecret: SecretLookup): AuthResult {
  const values = new Map<string, string>();
  const queryAmz = new Map<string, string>();
  let contentType: string | undefined;
  let contentMd5: string | undefined;
  for (const p of request.params) {
    const name = paramName(p);
    const value = p.value ?? p.rawValue;
    if (name === Q_V2_ACCESS_KEY || name === Q_V2_SIGNATURE || name === Q_V2_EXPIRES) {
      if (values.has(name)) throw s3Error('InvalidArgument', `The ${name} query parameter appears more than once.`);
      // The signature is base64: a '+' sent unescaped arrives as '+' (not a space) here.
      values.set(name, value);
    } else if (name.toLowerCase().startsWith('x-amz-')) {
      if (!queryAmz.has(name.toLowerCase())) queryAmz.set(name.toLowerCase(), value);
    } else if (name.toLowerCase() === 'content-type') contentType ??= value;
    else if (name.toLowerCase() === 'content-md5') contentMd5 ??= value;
  }
  const accessKeyId = values.get(Q_V2_ACCESS_KEY);
  const signature = values.get(Q_V2_SIGNATURE);
  const expires = values.get(Q_V2_EXPIRES);
  if (!accessKeyId || !signature || expires === undefined) {
    throw s3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  }
  if (!/^\d{1,12}$/.test(expires)) throw s3Error('AccessDenied', 'Invalid date (should be seconds since epoch): ' + expires);
  const secret = secretOf(accessKeyId, lookupSecret);
  if (request.now.getTime() > Number(expires) * 1000) throw s3Error('AccessDenied', 'Request has expired');
  const { headers } = request;
  const parts = {
    method: request.method.toUpperCase(),
    contentMd5: (headerValue(headers, 'content-md5') ?? contentMd5 ?? '').trim(),
    contentType: (headerValue(headers, 'content-type') ?? contentType ?? '').trim(),
    date: expires,
    amzHeaders: canonicalAmzHeaders(headers, queryAmz),
  };
  verify(secret, resources(request).map((resource) => stringToSign({ ...parts, resource })), signature);
  return { kind: 'signed', accessKeyId, payload: UNSIGNED };
}
