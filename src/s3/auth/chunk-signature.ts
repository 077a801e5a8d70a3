/**
 * The signature chain of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] body. Each chunk signs
 *   'AWS4-HMAC-SHA256-PAYLOAD\n' + amzDate + '\n' + scope + '\n' + previousSignature + '\n'
 *   + sha256hex('') + '\n' + sha256hex(chunkData)
 * starting from the seed (the request signature), and the trailer signs
 *   'AWS4-HMAC-SHA256-TRAILER\n' + amzDate + '\n' + scope + '\n' + previousSignature + '\n'
 *   + sha256hex(trailer lines, each 'name:value\n').
 */
import { formatAmzDate } from './amz-date';
import { CHUNK_SIGNATURE_ALGORITHM, EMPTY_SHA256_HEX, TRAILER_SIGNATURE_ALGORITHM } from './constants';
import { sha256Hex } from './sha256';
import type { PayloadMode } from './types';
import { deriveSigningKey, signaturesEqual, signString } from './verify-signature';

type StreamingSigned = Extract<PayloadMode, { kind: 'streaming-signed' }>;

export class ChunkSignatureChain {
  private previous: string;

  private constructor(
    private readonly signingKey: Uint8Array,
    private readonly amzDate: string,
    private readonly scope: string,
    seedSignature: string,
  ) {
    this.previous = seedSignature.toLowerCase();
  }

  static async create(mode: StreamingSigned): Promise<ChunkSignatureChain> {
    const [date = '', , service = ''] = mode.scope.split('/');
    const key = deriveSigningKey(mode.secretAccessKey, { date, region: mode.region, service });
    return new ChunkSignatureChain(key, formatAmzDate(mode.signingDate), mode.scope, mode.seedSignature);
  }

  /** Checks the signature of a chunk whose data hashes to `dataSha256Hex`; on success it becomes the previous signature. */
  verifyChunk(dataSha256Hex: string, signature: string): boolean {
    const stringToSign = [CHUNK_SIGNATURE_ALGORITHM, this.amzDate, this.scope, this.previous, EMPTY_SHA256_HEX, dataSha256Hex].join('\n');
    return this.advance(stringToSign, signature);
  }

  /** Checks the trailer signature over the canonical trailer lines ('name:value\n' each). */
  verifyTrailer(trailerLines: string, signature: string): boolean {
    const stringToSign = [TRAILER_SIGNATURE_ALGORITHM, this.amzDate, this.scope, this.previous, sha256Hex(trailerLines)].join('\n');
    return this.advance(stringToSign, signature);
  }

  private advance(stringToSign: string, signature: string): boolean {
    if (!signaturesEqual(signString(this.signingKey, stringToSign), signature)) return false;
    this.previous = signature.toLowerCase();
    return true;
  }
}
