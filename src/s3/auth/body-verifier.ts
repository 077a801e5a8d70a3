/** `createBodyVerifier`: the Transform a request body goes through for the payload mode `authenticate` returned. */
import { s3Error } from '../errors';
import { AwsChunkedDecoder } from './aws-chunked-decoder';
import { checksumAlgorithmOfHeader } from './checksum';
import { ChunkSignatureChain } from './chunk-signature';
import { H_DECODED_CONTENT_LENGTH, H_TRAILER } from './constants';
import { headerValue, type HeaderRecord } from './http-headers';
import { PayloadHashVerifier } from './payload-hash-verifier';
import type { BodyVerifier, ChecksumAlgorithm, PayloadMode } from './types';

/**
 * Returns a Transform to put in front of the body, or undefined when the body needs no decoding or
 * verification (unsigned payloads). Throws an S3Error synchronously when the headers the decoder
 * depends on (x-amz-trailer, x-amz-decoded-content-length) are invalid.
 */
export function createBodyVerifier(payload: PayloadMode, headers: HeaderRecord): BodyVerifier | undefined {
  switch (payload.kind) {
    case 'unsigned':
      return undefined;
    case 'sha256':
      return new PayloadHashVerifier(payload.expectedHex);
    case 'streaming-signed':
      return new AwsChunkedDecoder({
        signatures: ChunkSignatureChain.create(payload),
        trailer: payload.trailer,
        checksumTrailer: payload.trailer ? announcedChecksumTrailer(headers) : undefined,
        decodedContentLength: decodedContentLength(headers),
      });
    case 'streaming-unsigned-trailer':
      return new AwsChunkedDecoder({
        trailer: true,
        checksumTrailer: announcedChecksumTrailer(headers),
        decodedContentLength: decodedContentLength(headers),
      });
  }
}

/** The checksum named by x-amz-trailer ('x-amz-checksum-crc32' -> 'CRC32'); undefined when the header is absent or empty. */
export function announcedChecksumTrailer(headers: HeaderRecord): ChecksumAlgorithm | undefined {
  const value = headerValue(headers, H_TRAILER);
  if (value === undefined) return undefined;
  const names = value.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) return undefined;
  if (names.length > 1) throw s3Error('InvalidRequest', 'Expecting a single x-amz-checksum- trailer. Multiple checksum types are not allowed.');
  const algorithm = checksumAlgorithmOfHeader(names[0]!);
  if (algorithm === undefined) throw s3Error('InvalidRequest', `The value specified in the x-amz-trailer header is not supported: "${names[0]}".`);
  return algorithm;
}

function decodedContentLength(headers: HeaderRecord): number | undefined {
  const value = headerValue(headers, H_DECODED_CONTENT_LENGTH);
  if (value === undefined) return undefined;
  const n = /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(n)) throw s3Error('InvalidArgument', `x-amz-decoded-content-length must be a non-negative integer; got "${value}".`);
  return n;
}
