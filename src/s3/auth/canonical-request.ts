/**
 * The SigV4 canonical request and string-to-sign, as a server must rebuild them from the request it
 * received.
 *
 * Why this is partly hand-built: @smithy/signature-v4 builds canonical requests from the client's
 * side. Its `createCanonicalRequest` is protected, takes the path as the client will send it
 * (`uriEscapePath: false` for S3, so it never decodes), picks the headers to sign itself and sorts
 * them, and expects an already-decoded query object. A server instead starts from the raw target
 * and must use exactly the header list the client declared in SignedHeaders. So:
 *   - the canonical URI is built here (decode each raw segment once, re-encode with the RFC 3986
 *     unreserved set, keep '/', no normalisation),
 *   - the canonical query goes through the library's `getCanonicalQuery` after decoding the raw
 *     parameters here (so escaping and ordering are the client library's own),
 *   - header values are normalised by the library's `getCanonicalHeaders` (trim, collapse spaces),
 *     and the lines are laid out here in SignedHeaders order.
 */
import { HttpRequest } from '@smithy/protocol-http';
import { getCanonicalHeaders, getCanonicalQuery } from '@smithy/signature-v4';
import { s3Error } from '../errors';
import { SIGV4_ALGORITHM } from './constants';
import { headerValue, type HeaderRecord } from './http-headers';
import { percentDecode, type RawQueryParam } from './raw-url';
import { sha256Hex } from './sha256';

/**
 * URI-encodes per SigV4: everything but the unreserved set A-Z a-z 0-9 '-' '_' '.' '~' becomes
 * %XX (upper-case hex) of its UTF-8 bytes. Same as the SDK's `escapeUri`.
 */
export function awsUriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const undecodable = (what: string): Error =>
  s3Error('SignatureDoesNotMatch', `The request ${what} contains a malformed percent-encoding or an invalid character.`);

/** Runs an encoding step; encodeURIComponent throws URIError on lone surrogates in un-escaped input. */
function encoding<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof URIError) throw undecodable(what);
    throw err;
  }
}

/**
 * Canonical URI for S3: each '/'-separated segment of the raw path is percent-decoded once and
 * re-encoded, so '%2F' inside a segment stays '%2F', '~' and '%7E' both become '~', and '!' becomes
 * '%21'. Empty segments ('//') and '.'/'..' segments are kept: they are part of S3 keys.
 */
export function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => {
      const decoded = percentDecode(segment);
      if (decoded === undefined) throw undecodable('path');
      return encoding('path', () => awsUriEncode(decoded));
    })
    .join('/');
}

/**
 * Canonical query string: names and values decoded ('+' stays '+'), re-encoded, sorted by name then
 * value; a parameter without '=' gets an empty value. `exclude` names (decoded, exact) are dropped,
 * e.g. X-Amz-Signature for presigned URLs (the library also always drops x-amz-signature).
 */
export function canonicalQuery(params: readonly RawQueryParam[], exclude: readonly string[] = []): string {
  const query: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const { rawName, rawValue } of params) {
    const name = percentDecode(rawName);
    const value = percentDecode(rawValue);
    if (name === undefined || value === undefined) throw undecodable('query string');
    if (exclude.includes(name)) continue;
    (query[name] ??= []).push(value);
  }
  return encoding('query string', () => getCanonicalQuery(new HttpRequest({ query })));
}

/**
 * Canonical headers block: one 'name:value\n' line per signed header, in the order the client
 * listed them. Values are trimmed with runs of spaces collapsed; repeated headers are joined by ','.
 * A signed header absent from the request canonicalises to an empty value (and will then fail to match).
 */
export function canonicalHeaders(headers: HeaderRecord, signedHeaders: readonly string[]): string {
  const picked: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of signedHeaders) {
    const value = headerValue(headers, name);
    if (value !== undefined) picked[name] = value;
  }
  const normalised = getCanonicalHeaders(new HttpRequest({ headers: picked }), undefined, new Set(signedHeaders));
  return signedHeaders.map((name) => `${name}:${normalised[name] ?? ''}\n`).join('');
}

export interface CanonicalRequestParts {
  method: string;
  rawPath: string;
  params: readonly RawQueryParam[];
  /** Query parameters left out of the canonical query (decoded names). */
  excludeParams?: readonly string[];
  headers: HeaderRecord;
  /** Lower-case names, in the client's order. */
  signedHeaders: readonly string[];
  /** x-amz-content-sha256 value (or 'UNSIGNED-PAYLOAD' for presigned URLs). */
  payloadHash: string;
}

export function buildCanonicalRequest(p: CanonicalRequestParts): string {
  return [
    p.method,
    canonicalUri(p.rawPath),
    canonicalQuery(p.params, p.excludeParams),
    canonicalHeaders(p.headers, p.signedHeaders),
    p.signedHeaders.join(';'),
    p.payloadHash,
  ].join('\n');
}

/** 'AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<sha256 hex of the canonical request>'. */
export function buildStringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}
