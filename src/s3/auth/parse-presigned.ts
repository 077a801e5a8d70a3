/** Parsing the X-Amz-* query parameters of a SigV4 presigned URL. */
import { s3Error } from '../errors';
import { parseAmzDate } from './amz-date';
import {
  MAX_PRESIGN_EXPIRES_S,
  MIN_PRESIGN_EXPIRES_S,
  Q_ALGORITHM,
  Q_CONTENT_SHA256,
  Q_CREDENTIAL,
  Q_DATE,
  Q_EXPIRES,
  Q_SIGNATURE,
  Q_SIGNED_HEADERS,
  SIGV4_ALGORITHM,
  UNSIGNED_PAYLOAD,
} from './constants';
import { isSignatureSyntax, parseCredential, parseSignedHeaders, type ParsedAuthorization } from './parse-authorization';
import { paramName, percentDecode, type RawQueryParam } from './raw-url';

export interface ParsedPresigned extends ParsedAuthorization {
  /** X-Amz-Date as sent ('20260101T000000Z'). */
  amzDate: string;
  date: Date;
  expiresSeconds: number;
  /** X-Amz-Content-Sha256 from the query, else UNSIGNED-PAYLOAD. */
  payloadHash: string;
}

const REQUIRED = [Q_ALGORITHM, Q_CREDENTIAL, Q_SIGNATURE, Q_DATE, Q_SIGNED_HEADERS, Q_EXPIRES] as const;

/** Whether the query carries SigV4 query authentication (or an attempt at it). */
export function hasPresignedParams(params: readonly RawQueryParam[]): boolean {
  return params.some((p) => {
    const name = paramName(p);
    return name === Q_SIGNATURE || name === Q_ALGORITHM || name === Q_CREDENTIAL;
  });
}

/** SigV2 query authentication: ?AWSAccessKeyId=...&Signature=...&Expires=... */
export function hasSigV2QueryParams(params: readonly RawQueryParam[]): boolean {
  const names = new Set(params.map(paramName));
  return names.has('AWSAccessKeyId') && names.has('Signature');
}

const err = (message: string) => s3Error('AuthorizationQueryParametersError', message);

export function parsePresignedQuery(params: readonly RawQueryParam[]): ParsedPresigned {
  const values = new Map<string, string>();
  for (const p of params) {
    let name = paramName(p);
    // Presigners hoist x-amz-* headers into the query keeping the header's spelling, so the payload
    // hash may arrive as x-amz-content-sha256 as well as X-Amz-Content-Sha256.
    if (name.toLowerCase() === Q_CONTENT_SHA256.toLowerCase()) name = Q_CONTENT_SHA256;
    if (!name.startsWith('X-Amz-')) continue;
    const value = percentDecode(p.rawValue);
    if (value === undefined) throw err(`The ${name} parameter contains a malformed percent-encoding.`);
    if (values.has(name)) throw err(`The ${name} parameter appears more than once.`);
    values.set(name, value);
  }
  if (REQUIRED.some((n) => values.get(n) === undefined)) {
    throw err(`Query-string authentication version 4 requires the ${REQUIRED.join(', ')} parameters.`);
  }
  const get = (n: (typeof REQUIRED)[number]) => values.get(n)!;

  if (get(Q_ALGORITHM) !== SIGV4_ALGORITHM) throw err(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}".`);
  const credential = parseCredential(get(Q_CREDENTIAL), 'AuthorizationQueryParametersError');
  const amzDate = get(Q_DATE);
  const date = parseAmzDate(amzDate);
  if (!date) throw err(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'".`);
  if (amzDate.slice(0, 8) !== credential.scope.date) {
    throw err('Invalid credential date "' + credential.scope.date + '". This date is not the same as X-Amz-Date: "' + amzDate.slice(0, 8) + '".');
  }
  const expiresRaw = get(Q_EXPIRES);
  const expiresSeconds = /^\d{1,7}$/.test(expiresRaw) ? Number(expiresRaw) : NaN;
  if (!(expiresSeconds >= MIN_PRESIGN_EXPIRES_S && expiresSeconds <= MAX_PRESIGN_EXPIRES_S)) {
    throw err(`X-Amz-Expires must be an integer between ${MIN_PRESIGN_EXPIRES_S} and ${MAX_PRESIGN_EXPIRES_S} (seven days); got "${expiresRaw}".`);
  }
  const signature = get(Q_SIGNATURE);
  if (!isSignatureSyntax(signature)) throw err('X-Amz-Signature must be 64 hexadecimal characters.');
  return {
    ...credential,
    signedHeaders: parseSignedHeaders(get(Q_SIGNED_HEADERS), 'AuthorizationQueryParametersError'),
    signature: signature.toLowerCase(),
    amzDate,
    date,
    expiresSeconds,
    payloadHash: values.get(Q_CONTENT_SHA256) ?? UNSIGNED_PAYLOAD,
  };
}
