/**
 * Streaming decoder of `Content-Encoding: aws-chunked` bodies, signed or not:
 *
 *   signed:   <hex-size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n[trailers]\r\n
 *   unsigned: <hex-size>\r\n<data>\r\n ... 0\r\n[trailers]\r\n
 *   trailers: x-amz-checksum-crc32:<base64>\r\n[x-amz-trailer-signature:<sig>\r\n]
 *
 * It emits only the payload bytes, accepts the framing split anywhere across network fragments,
 * verifies every chunk signature, the trailer signature and the trailer checksum, and checks the
 * decoded length against x-amz-decoded-content-length.
 *
 * Emit-before-verify policy: in a signed body, a chunk of up to `maxVerifiedChunkBytes` (8 MiB,
 * clients use 64 KiB to 1 MiB) is held until its signature has been checked, so no unverified byte
 * reaches the consumer; at most that one chunk is in memory. A larger chunk is streamed through
 * as it arrives (hashed incrementally) rather than buffered, and a bad signature then errors the
 * stream, which makes the storage layer discard the upload (writes are atomic; error -> nothing
 * stored). Bytes of an unsigned-trailer body, and anything covered only by the final trailer
 * checksum, can only be verified at the end, so they are emitted as they arrive and a mismatch
 * errors the stream just before it would end.
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { s3Error } from '../errors';
import type { ChunkSignatureChain } from './chunk-signature';
import { checksumHeaderName, createChecksum, type StreamingChecksum } from './checksum';
import { EMPTY_SHA256_HEX, TRAILER_SIGNATURE_NAME } from './constants';
import type { BodyVerifier, ChecksumAlgorithm, TrailingChecksum } from './types';

const MAX_VERIFIED_CHUNK_BYTES = 8 * 1024 * 1024;
/** Longest accepted chunk-size line ('<hex>;chunk-signature=<64 hex>' is under 100 bytes). */
const MAX_CHUNK_HEADER_BYTES = 4096;
/** Longest accepted trailer section. */
const MAX_TRAILER_BYTES = 16 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const SIGNED_CHUNK_HEADER = /^([0-9a-fA-F]{1,16});chunk-signature=([0-9a-fA-F]{64})$/;
const UNSIGNED_CHUNK_HEADER = /^([0-9a-fA-F]{1,16})(?:;[^\r\n]*)?$/;

interface AwsChunkedDecoderOptions {
  /** The signature chain of a signed body (seeded with the request signature); absent for unsigned bodies. */
  signatures?: Promise<ChunkSignatureChain>;
  /** Whether the body may carry trailers after the final chunk (the -TRAILER payload variants). */
  trailer: boolean;
  /** The checksum trailer announced by x-amz-trailer, which must then be present and match. */
  checksumTrailer?: ChecksumAlgorithm;
  /** x-amz-decoded-content-length, when the client sent it. */
  decodedContentLength?: number;
  /** Largest signed chunk held back until verified; larger ones are streamed through. */
  maxVerifiedChunkBytes?: number;
}

type State = 'chunk-header' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'done';

const malformed = (why: string) => s3Error('InvalidRequest', `Malformed aws-chunked body: ${why}`);

export class AwsChunkedDecoder extends Transform implements BodyVerifier {
  private readonly signed: boolean;
  private readonly maxHeld: number;
  private readonly checksum: StreamingChecksum | undefined;
  private chain: ChunkSignatureChain | undefined;

  private state: State = 'chunk-header';
  private line: Buffer[] = [];
  private lineBytes = 0;
  private trailerBytes = 0;

  private remaining = 0;
  private chunkSignature = '';
  private chunkHash: Hash | undefined;
  private holding = false;
  private held: Buffer[] = [];
  private decoded = 0;

  private readonly trailers = new Map<string, string>();
  private trailerSignature: string | undefined;
  private verifiedChecksum: TrailingChecksum | undefined;

  constructor(private readonly options: AwsChunkedDecoderOptions) {
    super();
    this.signed = options.signatures !== undefined;
    // Handled later in withChain; this only keeps an early rejection from counting as unhandled.
    options.signatures?.catch(() => undefined);
    this.maxHeld = options.maxVerifiedChunkBytes ?? MAX_VERIFIED_CHUNK_BYTES;
    this.checksum = options.checksumTrailer === undefined ? undefined : createChecksum(options.checksumTrailer);
  }

  trailingChecksum(): TrailingChecksum | undefined {
    return this.verifiedChecksum;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.withChain(callback, () => this.consume(chunk));
  }

  override _flush(callback: TransformCallback): void {
    this.withChain(callback, () => this.finish());
  }

  /** Runs `step` once the signature chain (signing-key derivation is async) is ready. */
  private withChain(callback: TransformCallback, step: () => void | Promise<void>): void {
    const run = () => {
      try {
        const result = step();
        if (result) result.then(() => callback(), callback);
        else callback();
      } catch (err) {
        callback(err as Error);
      }
    };
    if (this.options.signatures === undefined || this.chain !== undefined) return run();
    this.options.signatures.then((chain) => {
      this.chain = chain;
      run();
    }, callback);
  }

  private consume(buf: Buffer): void {
    let pos = 0;
    while (pos < buf.length) {
      switch (this.state) {
        case 'chunk-header':
        case 'trailer': {
          const lf = buf.indexOf(LF, pos);
          const end = lf === -1 ? buf.length : lf + 1;
          this.appendLine(buf.subarray(pos, end));
          pos = end;
          if (lf !== -1) {
            const line = this.takeLine();
            if (this.state === 'chunk-header') this.onChunkHeader(line);
            else this.onTrailerLine(line);
          }
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, buf.length - pos);
          this.onData(buf.subarray(pos, pos + n));
          pos += n;
          break;
        }
        case 'data-cr':
          if (buf[pos] !== CR) throw malformed('chunk data is longer than its declared size or not followed by CRLF.');
          pos += 1;
          this.state = 'data-lf';
          break;
        case 'data-lf':
          if (buf[pos] !== LF) throw malformed('chunk data is not followed by CRLF.');
          pos += 1;
          this.state = 'chunk-header';
          break;
        case 'done':
          throw malformed('unexpected data after the final chunk.');
      }
    }
  }

  private appendLine(piece: Buffer): void {
    this.lineBytes += piece.length;
    if (this.state === 'chunk-header' && this.lineBytes > MAX_CHUNK_HEADER_BYTES) throw malformed('chunk header line too long.');
    if (this.state === 'trailer' && (this.trailerBytes += piece.length) > MAX_TRAILER_BYTES) throw malformed('trailer section too long.');
    this.line.push(piece);
  }

  /** The completed line without its CRLF. */
  private takeLine(): string {
    const text = Buffer.concat(this.line, this.lineBytes).toString('latin1');
    this.line = [];
    this.lineBytes = 0;
    if (!text.endsWith('\r\n')) throw malformed('line not terminated by CRLF.');
    return text.slice(0, -2);
  }

  private onChunkHeader(line: string): void {
    const m = (this.signed ? SIGNED_CHUNK_HEADER : UNSIGNED_CHUNK_HEADER).exec(line);
    if (!m) throw malformed(`bad chunk header "${line.slice(0, 120)}".`);
    const size = parseInt(m[1]!, 16);
    if (!Number.isSafeInteger(size)) throw malformed('chunk size too large.');
    this.chunkSignature = m[2] ?? '';
    const limit = this.options.decodedContentLength;
    if (limit !== undefined && this.decoded + size > limit) throw lengthMismatch(this.decoded + size, limit, 'at least ');
    if (size === 0) {
      if (this.signed && !this.chain!.verifyChunk(EMPTY_SHA256_HEX, this.chunkSignature)) throw badSignature('the final chunk');
      this.state = 'trailer';
      return;
    }
    this.remaining = size;
    this.state = 'data';
    if (this.signed) {
      this.chunkHash = createHash('sha256');
      this.holding = size <= this.maxHeld;
    }
  }

  private onData(piece: Buffer): void {
    this.remaining -= piece.length;
    this.decoded += piece.length;
    this.chunkHash?.update(piece);
    this.checksum?.update(piece);
    if (this.holding) this.held.push(piece);
    else this.push(piece);
    if (this.remaining > 0) return;
    this.state = 'data-cr';
    if (!this.signed) return;
    if (!this.chain!.verifyChunk(this.chunkHash!.digest('hex'), this.chunkSignature)) throw badSignature('a chunk');
    this.chunkHash = undefined;
    for (const b of this.held) this.push(b);
    this.held = [];
  }

  private onTrailerLine(line: string): void {
    if (line === '') {
      this.state = 'done';
      return;
    }
    if (!this.options.trailer) throw malformed('trailers are not allowed with this x-amz-content-sha256 (expected CRLF after the final chunk).');
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`bad trailer line "${line.slice(0, 120)}".`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (this.trailerSignature !== undefined) throw malformed(`${TRAILER_SIGNATURE_NAME} must be the last trailer.`);
    if (this.signed && name === TRAILER_SIGNATURE_NAME) {
      this.trailerSignature = value;
      return;
    }
    if (this.trailers.has(name)) throw malformed(`trailer ${name} appears twice.`);
    this.trailers.set(name, value);
  }

  private async finish(): Promise<void> {
    if (this.state !== 'done') throw s3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk and trailer were complete.');
    const limit = this.options.decodedContentLength;
    if (limit !== undefined && this.decoded !== limit) throw lengthMismatch(this.decoded, limit, '');

    if (this.signed && this.options.trailer) {
      if (this.trailerSignature === undefined) throw s3Error('SignatureDoesNotMatch', `The ${TRAILER_SIGNATURE_NAME} trailer is missing.`);
      const canonical = [...this.trailers].map(([name, value]) => `${name}:${value}\n`).join('');
      if (!this.chain!.verifyTrailer(canonical, this.trailerSignature)) throw badSignature('the trailer');
    }

    const algorithm = this.options.checksumTrailer;
    const expectedName = algorithm === undefined ? undefined : checksumHeaderName(algorithm);
    for (const name of this.trailers.keys()) {
      if (name !== expectedName) throw s3Error('InvalidRequest', `The trailer ${name} was not announced in x-amz-trailer.`);
    }
    if (algorithm === undefined || expectedName === undefined) return;
    const value = this.trailers.get(expectedName);
    if (value === undefined) throw s3Error('InvalidRequest', `The ${expectedName} trailer announced in x-amz-trailer is missing.`);
    const computed = await this.checksum!.digestBase64();
    if (computed !== value) throw s3Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`);
    this.verifiedChecksum = { algorithm, value };
  }
}

const badSignature = (what: string) =>
  s3Error('SignatureDoesNotMatch', `The signature of ${what} of the aws-chunked body does not match what we calculated.`);

const lengthMismatch = (got: number, declared: number, qualifier: string) =>
  s3Error('IncompleteBody', `The aws-chunked body decodes to ${qualifier}${got} bytes but x-amz-decoded-content-length is ${declared}.`);
