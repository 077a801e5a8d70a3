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
import { paramName, type RawQueryParam } from './raw-url';

const Q_CONTENT_SHA256_LOWER = Q_CONTENT_SHA256.toLowerCase();

interface ParsedPresigned extends ParsedAuthorization {
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

const err = (message: string) => s3Error('AuthorizationQueryParametersError', message);

/** The X-Amz-* parameters of query authentication, by name (each at most once). */
type PresignedValues = Partial<Record<(typeof REQUIRED)[number] | typeof Q_CONTENT_SHA256, string>>;

const PRESIGNED_NAMES: ReadonlySet<string> = new Set([...REQUIRED, Q_CONTENT_SHA256]);

export function parsePresignedQuery(params: readonly RawQueryParam[]): ParsedPresigned {
  const values: PresignedValues = {};
  for (const p of params) {
    let name = paramName(p);
    // Presigners hoist x-amz-* headers into the query keeping the header's spelling, so the payload
    // hash may arrive as x-amz-content-sha256 as well as X-Amz-Content-Sha256.
    if (name.length === Q_CONTENT_SHA256.length && name.toLowerCase() === Q_CONTENT_SHA256_LOWER) name = Q_CONTENT_SHA256;
    if (!PRESIGNED_NAMES.has(name)) continue;
    const key = name as keyof PresignedValues;
    const value = p.value;
    if (value === undefined) throw err(`The ${name} parameter contains a malformed percent-encoding.`);
    if (values[key] !== undefined) throw err(`The ${name} parameter appears more than once.`);
    values[key] = value;
  }
  const algorithm = values[Q_ALGORITHM];
  const credentialValue = values[Q_CREDENTIAL];
  const amzDate = values[Q_DATE];
  const expiresRaw = values[Q_EXPIRES];
  const signature = values[Q_SIGNATURE];
  const signedHeaders = values[Q_SIGNED_HEADERS];
  if (algorithm === undefined || credentialValue === undefined || amzDate === undefined || expiresRaw === undefined || signature === undefined || signedHeaders === undefined) {
    throw err(`Query-string authentication version 4 requires the ${REQUIRED.join(', ')} parameters.`);
  }

  if (algorithm !== SIGV4_ALGORITHM) throw err(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}".`);
  const credential = parseCredential(credentialValue, 'AuthorizationQueryParametersError');
  const date = parseAmzDate(amzDate);
  if (!date) throw err(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'".`);
  if (!amzDate.startsWith(credential.scope.date)) {
    throw err('Invalid credential date "' + credential.scope.date + '". This date is not the same as X-Amz-Date: "' + amzDate.slice(0, 8) + '".');
  }
  const expiresSeconds = /^\d{1,7}$/.test(expiresRaw) ? Number(expiresRaw) : NaN;
  if (!(expiresSeconds >= MIN_PRESIGN_EXPIRES_S && expiresSeconds <= MAX_PRESIGN_EXPIRES_S)) {
    throw err(`X-Amz-Expires must be an integer between ${MIN_PRESIGN_EXPIRES_S} and ${MAX_PRESIGN_EXPIRES_S} (seven days); got "${expiresRaw}".`);
  }
  if (!isSignatureSyntax(signature)) throw err('X-Amz-Signature must be 64 hexadecimal characters.');
  return {
    accessKeyId: credential.accessKeyId,
    scope: credential.scope,
    signedHeaders: parseSignedHeaders(signedHeaders, 'AuthorizationQueryParametersError'),
    signature: signature.toLowerCase(),
    amzDate,
    date,
    expiresSeconds,
    payloadHash: values[Q_CONTENT_SHA256] ?? UNSIGNED_PAYLOAD,
  };
}
