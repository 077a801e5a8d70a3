/**
 * Parsing the SigV4 Authorization header and the credential / signed-headers values it shares with
 * presigned URLs.
 */
import { s3Error, type S3ErrorCode } from '../errors';
import { S3_SERVICE, SIGV4_ALGORITHM, SIGV4_TERMINATOR } from './constants';
import type { Scope } from './verify-signature';
import { memoLast } from '../../util/memo-last';

interface ParsedCredential {
  accessKeyId: string;
  scope: Scope;
}

export interface ParsedAuthorization extends ParsedCredential {
  /** Lower-case names in the order the client listed them. */
  signedHeaders: string[];
  signature: string;
}

const malformed = (why: string) => s3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${why}`);

type AuthErrorCode = Extract<S3ErrorCode, 'AuthorizationHeaderMalformed' | 'AuthorizationQueryParametersError'>;

/** The scope as it appears in the credential and in strings-to-sign: 'YYYYMMDD/region/s3/aws4_request'. */
export function scopeString(scope: Scope): string {
  return `${scope.date}/${scope.region}/${scope.service}/${SIGV4_TERMINATOR}`;
}

/**
 * 'AKID/20260101/us-east-1/s3/aws4_request'. Any region is accepted (the signature is checked with
 * the region the client used); the service must be s3 and the terminator aws4_request.
 */
export function parseCredential(value: string, code: AuthErrorCode): ParsedCredential {
  return code === 'AuthorizationHeaderMalformed' ? credentialOfHeader(value) : credentialOfQuery(value);
}

/** The parsed credential (frozen: it is shared by the requests that carry the same text). */
function parseCredentialText(value: string, code: AuthErrorCode): ParsedCredential {
  const where = code === 'AuthorizationHeaderMalformed' ? 'The authorization header is malformed' : 'Error parsing the X-Amz-Credential parameter';
  const parts = value.split('/');
  const [accessKeyId, date, region, service, terminator] = parts;
  if (parts.length !== 5 || !accessKeyId || !date || !region || !service || !terminator) {
    throw s3Error(code, `${where}; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  if (!/^\d{8}$/.test(date)) throw s3Error(code, `${where}; incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  if (service !== S3_SERVICE) throw s3Error(code, `${where}; incorrect service "${service}". This endpoint belongs to "${S3_SERVICE}".`);
  if (terminator !== SIGV4_TERMINATOR) {
    throw s3Error(code, `${where}; incorrect terminal "${terminator}". This endpoint uses "${SIGV4_TERMINATOR}".`);
  }
  return Object.freeze({ accessKeyId, scope: Object.freeze({ date, region, service }) });
}

const credentialOfHeader = memoLast((value) => parseCredentialText(value, 'AuthorizationHeaderMalformed'));
const credentialOfQuery = memoLast((value) => parseCredentialText(value, 'AuthorizationQueryParametersError'));

const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;

/** 'host;x-amz-content-sha256;x-amz-date' -> names; 'host' must be among them. */
export function parseSignedHeaders(value: string, code: AuthErrorCode): string[] {
  const names = value.split(';').map((n) => n.trim().toLowerCase());
  if (names.some((n) => !HEADER_NAME.test(n))) throw s3Error(code, `The SignedHeaders value "${value}" is malformed.`);
  if (!names.includes('host')) throw s3Error(code, "The 'host' header must be among the signed headers.");
  return names;
}

const SIGNATURE = /^[0-9a-fA-F]{64}$/;

export function isSignatureSyntax(value: string): boolean {
  return SIGNATURE.test(value);
}

/**
 * 'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex'.
 * Lenient about whitespace around the commas and around the algorithm. SigV2 ('AWS AKID:sig') is
 * verified by sigv2.ts before this is called (a bare 'AWS' is InvalidArgument); other schemes are
 * refused with InvalidArgument, anything else malformed with AuthorizationHeaderMalformed.
 */
export function parseAuthorizationHeader(value: string): ParsedAuthorization {
  const trimmed = value.trim();
  const m = /^(\S+)\s+([\s\S]*)$/.exec(trimmed);
  const algorithm = m ? m[1]! : trimmed;
  if (algorithm === 'AWS') throw s3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature');
  if (algorithm !== SIGV4_ALGORITHM) {
    if (algorithm.startsWith(SIGV4_ALGORITHM)) throw malformed(`the algorithm must be followed by a space.`);
    throw s3Error('InvalidArgument', `Unsupported Authorization Type "${algorithm}"; only ${SIGV4_ALGORITHM} is supported.`);
  }
  const fields = new Map<string, string>();
  for (const part of (m?.[2] ?? '').split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) throw malformed(`"${item}" is not of the form Name=Value.`);
    const name = item.slice(0, eq).trim();
    if (!['Credential', 'SignedHeaders', 'Signature'].includes(name)) throw malformed(`unexpected component "${name}".`);
    if (fields.has(name)) throw malformed(`"${name}" appears twice.`);
    fields.set(name, item.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw malformed('expecting Credential, SignedHeaders and Signature.');
  }
  if (!isSignatureSyntax(signature)) throw malformed('the Signature must be 64 hexadecimal characters.');
  return {
    ...parseCredential(credential, 'AuthorizationHeaderMalformed'),
    signedHeaders: parseSignedHeaders(signedHeaders, 'AuthorizationHeaderMalformed'),
    signature: signature.toLowerCase(),
  };
}

