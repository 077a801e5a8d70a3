/**
 * Public types of the SigV4 authentication module.
 */
import type { Transform } from 'node:stream';
import type { ChecksumAlgorithm } from '../../../ufs-adapters/types';
import type { RawUrl } from './raw-url';

export type { ChecksumAlgorithm };

/** The parts of an HTTP request that authentication looks at. */
export interface AuthInput {
  /** 'GET', 'PUT', ... */
  method: string;
  /** Request target exactly as received: '/bucket/key%20x?uploads&x=1'. */
  rawUrl: string;
  /** `rawUrl` already split (splitRawUrl), when the caller has it. */
  target?: RawUrl;
  /** Node IncomingHttpHeaders (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  now: Date;
}

/** How the request body must be decoded and verified, as the request's x-amz-content-sha256 declares. */
export type PayloadMode =
  /** UNSIGNED-PAYLOAD, presigned URLs, anonymous requests: the body is taken as is. */
  | { kind: 'unsigned' }
  /** The body must hash (SHA-256) to this lower-case hex value. */
  | { kind: 'sha256'; expectedHex: string }
  /** STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]: aws-chunked body with a signature per chunk. */
  | {
      kind: 'streaming-signed';
      trailer: boolean;
      seedSignature: string;
      signingDate: Date;
      scope: string;
      secretAccessKey: string;
      region: string;
    }
  /** STREAMING-UNSIGNED-PAYLOAD-TRAILER: aws-chunked body without signatures, checksum in a trailer. */
  | { kind: 'streaming-unsigned-trailer' };

export type AuthResult =
  | { kind: 'anonymous'; payload: PayloadMode }
  | { kind: 'signed'; accessKeyId: string; payload: PayloadMode };

/** The secret access key of an access key id, or undefined when the key is unknown. */
export type SecretLookup = (accessKeyId: string) => string | undefined;

/** A checksum received in an aws-chunked trailer (x-amz-checksum-*), verified against the decoded body. */
export interface TrailingChecksum {
  algorithm: ChecksumAlgorithm;
  /** Base64, as the client sent it. */
  value: string;
}

/**
 * A Transform placed in front of a request body: it emits the payload bytes (aws-chunked framing
 * stripped) and errors with an S3Error when the body fails verification.
 */
export interface BodyVerifier extends Transform {
  /** The verified trailer checksum; set once the stream has ended successfully, undefined before or when none was sent. */
  trailingChecksum(): TrailingChecksum | undefined;
}
