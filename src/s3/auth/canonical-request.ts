/**
 * The SigV4 canonical request and string-to-sign, as a server must rebuild them from the request it
 * received: from the raw target (each path segment and query parameter decoded once and
 * re-encoded) and exactly the header list the client declared in SignedHeaders, in its order.
 *
 * Built by hand rather than through @smithy/signature-v4's helpers, which take a client's
 * HttpRequest (an object per request, a header map re-sorted and re-scanned per call): this runs
 * on every request, warm hits included. The rules are the SDK's own, checked against it by
 * `test/unit/auth-canonical.test.ts` over generated inputs:
 *   - query: names and values URI-encoded, sorted by encoded name, then by "name=value" within a
 *     name; X-Amz-Signature (any case) left out;
 *   - header values: CR and LF become spaces, runs of spaces and tabs one space, one leading and
 *     one trailing space dropped.
 */
import { s3Error } from '../errors';
import { SIGV4_ALGORITHM } from './constants';
import { headerValue, type HeaderRecord } from './http-headers';
import { percentDecode, type RawQueryParam } from './raw-url';
import { sha256Hex } from './sha256';

const RESERVED_BY_ENCODE_URI_COMPONENT = /[!'()*]/g;
const hexEscape = (c: string): string => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;
/** Characters that never need escaping: most path segments and query values are made only of them. */
const UNRESERVED_ONLY = /^[A-Za-z0-9\-._~]*$/;

/**
 * URI-encodes per SigV4: everything but the unreserved set A-Z a-z 0-9 '-' '_' '.' '~' becomes
 * %XX (upper-case hex) of its UTF-8 bytes. Same as the SDK's `escapeUri`.
 */
export function awsUriEncode(value: string): string {
  if (UNRESERVED_ONLY.test(value)) return value;
  return encodeURIComponent(value).replace(RESERVED_BY_ENCODE_URI_COMPONENT, hexEscape);
}

const undecodable = (what: string): Error =>
  s3Error('SignatureDoesNotMatch', `The request ${what} contains a malformed percent-encoding or an invalid character.`);

/** Encodes, turning encodeURIComponent's URIError (a lone surrogate) into SignatureDoesNotMatch. */
function encodeOrRefuse(what: string, value: string): string {
  try {
    return awsUriEncode(value);
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
  if (UNRESERVED_PATH.test(rawPath)) return rawPath;
  const segments = rawPath.split('/');
  for (let i = 0; i < segments.length; i++) {
    const decoded = percentDecode(segments[i]);
    if (decoded === undefined) throw undecodable('path');
    segments[i] = encodeOrRefuse('path', decoded);
  }
  return segments.join('/');
}
/**
 * Raw text that is already in canonical form: unreserved characters, and upper-case %XX escapes
 * of ASCII bytes outside the unreserved set (%2F, %3A, ...). Decoding and re-encoding it gives
 * it back unchanged, so it is used as it is. Anything else (lower-case hex, escaped unreserved
 * characters, UTF-8 sequences, '+') goes through decode and encode.
 */
const CANONICAL_ASCII = /^(?:[A-Za-z0-9\-._~]|%(?:[01][0-9A-F]|2[0-9ABCF]|3[A-F]|40|5[BCDE]|60|7[BCDF]))*$/;

/** A path of unreserved characters and slashes is its own canonical form. */
const UNRESERVED_PATH = /^[A-Za-z0-9\-._~/]*$/;

/**
 * Canonical query string: names and values decoded ('+' stays '+'), re-encoded, sorted by name then
 * value; a parameter without '=' gets an empty value. `exclude` names (decoded, exact) are dropped,
 * e.g. X-Amz-Signature for presigned URLs (X-Amz-Signature in any case is always dropped).
 */
export function canonicalQuery(params: readonly RawQueryParam[], exclude: readonly string[] = []): string {
  if (params.length === 0) return '';
  const pairs: { name: string; pair: string }[] = [];
  for (const { rawName, rawValue, name, value } of params) {
    if (name === undefined || value === undefined) throw undecodable('query string');
    if (exclude.includes(name) || name.toLowerCase() === 'x-amz-signature') continue;
    const encodedName = CANONICAL_ASCII.test(rawName) ? rawName : encodeOrRefuse('query string', name);
    const encodedValue = CANONICAL_ASCII.test(rawValue) ? rawValue : encodeOrRefuse('query string', value);
    pairs.push({ name: encodedName, pair: `${encodedName}=${encodedValue}` });
  }
  pairs.sort(byNameThenPair);
  let out = '';
  for (let i = 0; i < pairs.length; i++) out += i === 0 ? pairs[i].pair : `&${pairs[i].pair}`;
  return out;
}

function byNameThenPair(a: { name: string; pair: string }, b: { name: string; pair: string }): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.pair < b.pair ? -1 : a.pair > b.pair ? 1 : 0;
}

/** A header value as SigV4 canonicalises it (the SDK's rule, see the file comment). */
export function canonicalHeaderValue(value: string): string {
  if (SIMPLE_HEADER_VALUE.test(value)) return value;
  return value.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}
/** No CR, LF or tab, no leading or trailing space, no double space: already canonical. */
const SIMPLE_HEADER_VALUE = /^(?:[^\s]|[^\s] (?=[^\s]))*$/;

/**
 * Canonical headers block: one 'name:value\n' line per signed header, in the order the client
 * listed them. Repeated headers are joined by ','. A signed header absent from the request
 * canonicalises to an empty value (and will then fail to match).
 */
function canonicalHeaders(headers: HeaderRecord, signedHeaders: readonly string[]): string {
  let out = '';
  for (const name of signedHeaders) {
    const value = headerValue(headers, name);
    out += `${name}:${value === undefined ? '' : canonicalHeaderValue(value)}\n`;
  }
  return out;
}

interface CanonicalRequestParts {
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
  return `${p.method}\n${canonicalUri(p.rawPath)}\n${canonicalQuery(p.params, p.excludeParams)}\n${canonicalHeaders(p.headers, p.signedHeaders)}\n${p.signedHeaders.join(';')}\n${p.payloadHash}`;
}

/**
 * 'AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<sha256 hex of the canonical request>'. The client
 * hashed the bytes it sent: header values reach us as latin1 characters (one per byte, so
 * non-ASCII metadata is its UTF-8 bytes), and everything else in the canonical request is
 * percent-encoded ASCII, so hashing the text as latin1 hashes exactly those bytes.
 */
export function buildStringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  const bytes = NON_ASCII.test(canonicalRequest) ? Buffer.from(canonicalRequest, 'latin1') : canonicalRequest;
  return `${SIGV4_ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(bytes)}`;
}
const NON_ASCII = /[^\x00-\x7f]/;
