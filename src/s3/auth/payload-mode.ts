/** Mapping the x-amz-content-sha256 value to how the body has to be decoded and verified. */
import { s3Error } from '../errors';
import {
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
  UNSIGNED_PAYLOAD,
} from './constants';
import type { PayloadMode } from './types';

/** What a streaming-signed body needs to verify its chunk signatures. */
export interface StreamingSigningContext {
  seedSignature: string;
  signingDate: Date;
  scope: string;
  secretAccessKey: string;
  region: string;
}

/**
 * UNSIGNED-PAYLOAD -> unsigned; 64 hex -> sha256; STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] ->
 * streaming-signed; STREAMING-UNSIGNED-PAYLOAD-TRAILER -> streaming-unsigned-trailer; anything else
 * -> InvalidArgument.
 */
export function payloadModeFor(contentSha256: string, signing: () => StreamingSigningContext): PayloadMode {
  switch (contentSha256) {
    case UNSIGNED_PAYLOAD:
      return { kind: 'unsigned' };
    case STREAMING_SIGNED_PAYLOAD:
      return { kind: 'streaming-signed', trailer: false, ...signing() };
    case STREAMING_SIGNED_PAYLOAD_TRAILER:
      return { kind: 'streaming-signed', trailer: true, ...signing() };
    case STREAMING_UNSIGNED_PAYLOAD_TRAILER:
      return { kind: 'streaming-unsigned-trailer' };
    default:
      if (/^[0-9a-fA-F]{64}$/.test(contentSha256)) return { kind: 'sha256', expectedHex: contentSha256.toLowerCase() };
      throw s3Error('InvalidArgument', `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a SHA-256 hex digest; got "${contentSha256}".`);
  }
}

/**
 * Payload mode of a request without authentication: normally unsigned, but an aws-chunked body
 * with an unsigned trailer still needs decoding. A signed streaming body cannot be anonymous.
 */
export function anonymousPayloadMode(contentSha256: string | undefined): PayloadMode {
  if (contentSha256 === STREAMING_UNSIGNED_PAYLOAD_TRAILER) return { kind: 'streaming-unsigned-trailer' };
  if (contentSha256 === STREAMING_SIGNED_PAYLOAD || contentSha256 === STREAMING_SIGNED_PAYLOAD_TRAILER) {
    throw s3Error('InvalidRequest', `x-amz-content-sha256 ${contentSha256} requires a request signed with AWS Signature Version 4.`);
  }
  return { kind: 'unsigned' };
}
