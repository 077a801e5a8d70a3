/**
 * `Authenticator`: SigV4 (and, unless turned off, SigV2: sigv2.ts) verification of a request's headers and target, by Authorization header or
 * by presigned-URL query parameters. The body is verified separately, by the Transform that
 * `createBodyVerifier` builds from the returned payload mode.
 */
import { s3Error } from '../errors';
import { formatAmzDate, parseAmzDate, parseHttpDate } from './amz-date';
import { buildCanonicalRequest, buildStringToSign } from './canonical-request';
import { H_AMZ_DATE, H_AUTHORIZATION, H_CONTENT_SHA256, H_DATE, MAX_CLOCK_SKEW_MS, Q_SIGNATURE } from './constants';
import { headerValue, type HeaderRecord } from './http-headers';
import { parseAuthorizationHeader, scopeString, type ParsedAuthorization } from './parse-authorization';
import { hasPresignedParams, parsePresignedQuery } from './parse-presigned';
import { authenticateSigV2Header, authenticateSigV2Query, hasSigV2Query, isSigV2Header, type SigV2Request } from './sigv2';
import { virtualHostBucket } from '../endpoint';
import { anonymousPayloadMode, payloadModeFor, type StreamingSigningContext } from './payload-mode';
import { splitRawUrl, type RawQueryParam } from './raw-url';
import type { AuthInput, AuthResult, SecretLookup } from './types';
import { SigningKeys, verifySignature } from './verify-signature';
import { PresignedVerdicts, type PresignedVerdict } from './presigned-verdicts';

/**
 * Verifies SigV4 requests for one set of credentials. Synchronous: a signing key is derived once
 * per (credential, date, region, service) and kept (`SigningKeys`), so a request costs its
 * canonical request, one SHA-256 and one HMAC; a presigned GET or HEAD URL that verified before
 * with the same inputs costs a map lookup (`PresignedVerdicts`). One instance serves the S3 front
 * door, the warm-hit path and the admin routes.
 */
interface AuthenticatorOptions {
  /** Accept AWS Signature Version 2 (header and presigned URLs); refused with InvalidRequest when false. */
  signatureV2?: boolean;
  /** The virtual-hosted-style base domain: SigV2 signs the bucket of the Host header in its resource. */
  baseDomain?: string;
}

const SIGV2_REFUSED = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

export class Authenticator {
  private readonly keys = new SigningKeys();
  /** Presigned GET/HEAD URLs that verified, by their exact inputs (see presigned-verdicts.ts). */
  private readonly presigned = new PresignedVerdicts();

  constructor(
    private readonly lookupSecret: SecretLookup,
    private readonly options: AuthenticatorOptions = {},
  ) {}

  /** Throws an S3Error (403/400) when the request is not validly signed; anonymous requests pass as such. */
  authenticate(input: AuthInput): AuthResult {
    const authorization = headerValue(input.headers, H_AUTHORIZATION);
    if (authorization === undefined) {
      const remembered = this.presigned.find(input.method, input.rawUrl, input.headers, input.now.getTime(), this.lookupSecret);
      if (remembered) return rememberedResult(input, remembered);
    }
    const { rawPath, params } = input.target ?? splitRawUrl(input.rawUrl);
    const presigned = hasPresignedParams(params);
    const presignedV2 = hasSigV2Query(params);
    if ((authorization !== undefined && (presigned || presignedV2)) || (presigned && presignedV2)) {
      throw s3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified.');
    }
    if (authorization !== undefined && isSigV2Header(authorization)) return authenticateSigV2Header(this.sigV2(input, rawPath, params), authorization, this.lookupSecret);
    if (authorization !== undefined) return this.byHeader(input, authorization, rawPath, params);
    if (presigned) return this.byQuery(input, rawPath, params);
    if (presignedV2) return authenticateSigV2Query(this.sigV2(input, rawPath, params), this.lookupSecret);
    return { kind: 'anonymous', payload: anonymousPayloadMode(headerValue(input.headers, H_CONTENT_SHA256)) };
  }

  private sigV2(input: AuthInput, rawPath: string, params: RawQueryParam[]): SigV2Request {
    if (this.options.signatureV2 === false) throw s3Error('InvalidRequest', SIGV2_REFUSED);
    const hostBucket = virtualHostBucket(headerValue(input.headers, 'host'), this.options.baseDomain);
    return { method: input.method, rawPath, params, headers: input.headers, hostBucket, now: input.now };
  }

  private byHeader(input: AuthInput, authorization: string, rawPath: string, params: RawQueryParam[]): AuthResult {
    const auth = parseAuthorizationHeader(authorization);
    const payloadHash = headerValue(input.headers, H_CONTENT_SHA256);
    if (payloadHash === undefined) {
      throw s3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256 (required with Authorization: AWS4-HMAC-SHA256).');
    }
    const { amzDate, date } = requestDate(input.headers);
    if (amzDate.slice(0, 8) !== auth.scope.date) {
      throw s3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; Invalid credential date "${auth.scope.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
    }
    const secretAccessKey = secretOf(auth.accessKeyId, this.lookupSecret);
    if (Math.abs(input.now.getTime() - date.getTime()) > MAX_CLOCK_SKEW_MS) throw tooSkewed(date, input.now);
    requireAmzHeadersSigned(input.headers, auth.signedHeaders, NOTHING_UNSIGNED);
    const payload = payloadModeFor(payloadHash, () => streamingContext(auth, date, secretAccessKey));
    const canonicalRequest = buildCanonicalRequest({
      method: input.method,
      rawPath,
      params,
      headers: input.headers,
      signedHeaders: auth.signedHeaders,
      payloadHash,
    });
    verifySignature({
      signingKey: this.keys.get(secretAccessKey, auth.scope),
      stringToSign: buildStringToSign(amzDate, scopeString(auth.scope), canonicalRequest),
      signature: auth.signature,
    });
    return { kind: 'signed', accessKeyId: auth.accessKeyId, payload };
  }

  private byQuery(input: AuthInput, rawPath: string, params: RawQueryParam[]): AuthResult {
    const auth = parsePresignedQuery(params);
    const secretAccessKey = secretOf(auth.accessKeyId, this.lookupSecret);
    const now = input.now.getTime();
    if (auth.date.getTime() - now > MAX_CLOCK_SKEW_MS) throw tooSkewed(auth.date, input.now);
    if (now > auth.date.getTime() + auth.expiresSeconds * 1000) throw s3Error('AccessDenied', 'Request has expired');
    // The holder of a presigned URL may add headers; none may widen what the signer allowed
    // (x-amz-copy-source would turn a PUT into a copy, x-amz-meta-* would add metadata).
    requireAmzHeadersSigned(input.headers, auth.signedHeaders, UNSIGNED_ALLOWED_PRESIGNED);
    const payload = payloadModeFor(auth.payloadHash, () => streamingContext(auth, auth.date, secretAccessKey));
    const canonicalRequest = buildCanonicalRequest({
      method: input.method,
      rawPath,
      params,
      excludeParams: [Q_SIGNATURE],
      headers: input.headers,
      signedHeaders: auth.signedHeaders,
      payloadHash: auth.payloadHash,
    });
    verifySignature({
      signingKey: this.keys.get(secretAccessKey, auth.scope),
      stringToSign: buildStringToSign(auth.amzDate, scopeString(auth.scope), canonicalRequest),
      signature: auth.signature,
    });
    if (payload.kind === 'unsigned' || payload.kind === 'sha256') {
      const validFrom = auth.date.getTime() - MAX_CLOCK_SKEW_MS;
      const validUntil = auth.date.getTime() + auth.expiresSeconds * 1000;
      this.presigned.remember(input.method, input.rawUrl, input.headers, { accessKeyId: auth.accessKeyId, secretAccessKey, signedHeaders: auth.signedHeaders, payloadHash: auth.payloadHash, validFrom, validUntil });
    }
    return { kind: 'signed', accessKeyId: auth.accessKeyId, payload };
  }
}

/** The result of a presigned URL verified before with these very inputs; its unsigned headers are checked again. */
function rememberedResult(input: AuthInput, verdict: PresignedVerdict): AuthResult {
  requireAmzHeadersSigned(input.headers, verdict.signedHeaders, UNSIGNED_ALLOWED_PRESIGNED);
  const payload = payloadModeFor(verdict.payloadHash, () => {
    throw new Error('a streaming payload is never remembered');
  });
  return { kind: 'signed', accessKeyId: verdict.accessKeyId, payload };
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

const NOTHING_UNSIGNED = (_name: string): boolean => false;

/**
 * x-amz-* headers a presigned request may carry unsigned: the payload and checksum declarations
 * (they only constrain the body, which is verified against them) and the SDKs' user agent.
 */
function UNSIGNED_ALLOWED_PRESIGNED(name: string): boolean {
  return (
    name === 'x-amz-content-sha256' ||
    name === 'x-amz-decoded-content-length' ||
    name === 'x-amz-trailer' ||
    name === 'x-amz-sdk-checksum-algorithm' ||
    name === 'x-amz-user-agent' ||
    name.startsWith('x-amz-checksum-')
  );
}

/**
 * As S3 does: every x-amz-* header present must be signed (but those `mayBeUnsigned` allows), or a
 * replayed or presigned request could carry unsigned x-amz-meta-*, x-amz-copy-source and the like.
 */
function requireAmzHeadersSigned(headers: HeaderRecord, signedHeaders: readonly string[], mayBeUnsigned: (name: string) => boolean): void {
  let unsigned: string[] | undefined;
  for (const name in headers) {
    if (headers[name] === undefined) continue;
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-') || signedHeaders.includes(lower) || mayBeUnsigned(lower)) continue;
    (unsigned ??= []).push(lower);
  }
  if (unsigned !== undefined) {
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
