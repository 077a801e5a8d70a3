/**
 * `authenticate`: SigV4 verification of a request's headers and target, by Authorization header or
 * by presigned-URL query parameters. The body is verified separately, by the Transform that
 * `createBodyVerifier` builds from the returned payload mode.
 */
import { s3Error } from '../errors';
import { formatAmzDate, parseAmzDate, parseHttpDate } from './amz-date';
import { buildCanonicalRequest, buildStringToSign } from './canonical-request';
import { H_AMZ_DATE, H_AUTHORIZATION, H_CONTENT_SHA256, H_DATE, MAX_CLOCK_SKEW_MS, Q_SIGNATURE } from './constants';
import { headerValue, type HeaderRecord } from './http-headers';
import { parseAuthorizationHeader, scopeString, type ParsedAuthorization } from './parse-authorization';
import { hasPresignedParams, hasSigV2QueryParams, parsePresignedQuery } from './parse-presigned';
import { anonymousPayloadMode, payloadModeFor, type StreamingSigningContext } from './payload-mode';
import { splitRawUrl, type RawQueryParam } from './raw-url';
import type { AuthInput, AuthResult, SecretLookup } from './types';
import { verifySignature } from './verify-signature';

export async function authenticate(input: AuthInput, lookupSecret: SecretLookup): Promise<AuthResult> {
  const { rawPath, params } = splitRawUrl(input.rawUrl);
  const authorization = headerValue(input.headers, H_AUTHORIZATION);
  const presigned = hasPresignedParams(params);
  if (authorization !== undefined && presigned) {
    throw s3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.');
  }
  if (authorization !== undefined) return authenticateByHeader(input, authorization, rawPath, params, lookupSecret);
  if (presigned) return authenticateByQuery(input, rawPath, params, lookupSecret);
  if (hasSigV2QueryParams(params)) throw s3Error('InvalidRequest', 'SigV2 is not supported; please use AWS Signature Version 4 (AWS4-HMAC-SHA256).');
  return { kind: 'anonymous', payload: anonymousPayloadMode(headerValue(input.headers, H_CONTENT_SHA256)) };
}

async function authenticateByHeader(
  input: AuthInput,
  authorization: string,
  rawPath: string,
  params: RawQueryParam[],
  lookupSecret: SecretLookup,
): Promise<AuthResult> {
  const auth = parseAuthorizationHeader(authorization);
  const payloadHash = headerValue(input.headers, H_CONTENT_SHA256);
  if (payloadHash === undefined) {
    throw s3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256 (required with Authorization: AWS4-HMAC-SHA256).');
  }
  const { amzDate, date } = requestDate(input.headers);
  if (amzDate.slice(0, 8) !== auth.scope.date) {
    throw s3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; Invalid credential date "${auth.scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  }
  const secretAccessKey = secretOf(auth.accessKeyId, lookupSecret);
  if (Math.abs(input.now.getTime() - date.getTime()) > MAX_CLOCK_SKEW_MS) throw tooSkewed(date, input.now);
  requireAmzHeadersSigned(input.headers, auth.signedHeaders);
  const payload = payloadModeFor(payloadHash, streamingContext(auth, date, secretAccessKey));
  const canonicalRequest = buildCanonicalRequest({
    method: input.method,
    rawPath,
    params,
    headers: input.headers,
    signedHeaders: auth.signedHeaders,
    payloadHash,
  });
  await verifySignature({
    secretAccessKey,
    scope: auth.scope,
    stringToSign: buildStringToSign(amzDate, scopeString(auth.scope), canonicalRequest),
    signature: auth.signature,
  });
  return { kind: 'signed', accessKeyId: auth.accessKeyId, payload };
}

async function authenticateByQuery(
  input: AuthInput,
  rawPath: string,
  params: RawQueryParam[],
  lookupSecret: SecretLookup,
): Promise<AuthResult> {
  const auth = parsePresignedQuery(params);
  const secretAccessKey = secretOf(auth.accessKeyId, lookupSecret);
  const now = input.now.getTime();
  if (auth.date.getTime() - now > MAX_CLOCK_SKEW_MS) throw tooSkewed(auth.date, input.now);
  if (now > auth.date.getTime() + auth.expiresSeconds * 1000) throw s3Error('AccessDenied', 'Request has expired');
  const payload = payloadModeFor(auth.payloadHash, streamingContext(auth, auth.date, secretAccessKey));
  const canonicalRequest = buildCanonicalRequest({
    method: input.method,
    rawPath,
    params,
    excludeParams: [Q_SIGNATURE],
    headers: input.headers,
    signedHeaders: auth.signedHeaders,
    payloadHash: auth.payloadHash,
  });
  await verifySignature({
    secretAccessKey,
    scope: auth.scope,
    stringToSign: buildStringToSign(auth.amzDate, scopeString(auth.scope), canonicalRequest),
    signature: auth.signature,
  });
  return { kind: 'signed', accessKeyId: auth.accessKeyId, payload };
}

/** x-amz-date, else the Date header; AccessDenied when neither is a valid time. */
function requestDate(headers: HeaderRecord): { amzDate: string; date: Date } {
  const amz = headerValue(headers, H_AMZ_DATE);
  if (amz !== undefined) {
    const date = parseAmzDate(amz.trim());
    if (date) return { amzDate: amz.trim(), date };
  } else {
    const http = headerValue(headers, H_DATE);
    const date = http === undefined ? undefined : parseHttpDate(http);
    if (date) return { amzDate: formatAmzDate(date), date };
  }
  throw s3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
}

function secretOf(accessKeyId: string, lookupSecret: SecretLookup): string {
  const secret = lookupSecret(accessKeyId);
  if (secret === undefined) throw s3Error('InvalidAccessKeyId');
  return secret;
}

function tooSkewed(requestTime: Date, now: Date) {
  return s3Error(
    'RequestTimeTooSkewed',
    `The difference between the request time (${requestTime.toISOString()}) and the server time (${now.toISOString()}) is too large.`,
  );
}

/**
 * As S3 does for header auth: every x-amz-* header present must be signed, or a replayed request
 * could carry unsigned x-amz-meta-*, x-amz-copy-source, x-amz-checksum-* and the like.
 */
function requireAmzHeadersSigned(headers: HeaderRecord, signedHeaders: readonly string[]): void {
  const unsigned = Object.keys(headers)
    .filter((name) => headers[name] !== undefined)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('x-amz-') && !signedHeaders.includes(name));
  if (unsigned.length > 0) {
    throw s3Error('AccessDenied', `There were headers present in the request which were not signed: ${unsigned.join(', ')}`);
  }
}

function streamingContext(auth: ParsedAuthorization, signingDate: Date, secretAccessKey: string): StreamingSigningContext {
  return {
    seedSignature: auth.signature,
    signingDate,
    scope: scopeString(auth.scope),
    secretAccessKey,
    region: auth.scope.region,
  };
}
