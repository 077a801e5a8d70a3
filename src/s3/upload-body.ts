/**
 * Builds the stream an adapter writes from a request body:
 *   request.raw -> [SigV4 payload verifier / aws-chunked decoder] -> integrity check -> byte counter
 * The integrity check verifies Content-MD5 and x-amz-checksum-* headers at the end of the
 * stream; a failure errors the stream, so the adapter commits nothing. The raw request is
 * never destroyed by a failed check, so the client still gets its S3 error response.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { ChecksumAlgorithm, ChecksumMap } from '../../ufs-adapters/types';
import { ufsError } from '../../ufs-adapters/errors';
import { createBodyVerifier, createChecksum, type AuthResult, type BodyVerifier } from './auth';
import { announcedChecksumTrailer } from './auth/body-verifier';
import { S3Error, s3Error } from './errors';
import { CHECKSUM_ALGORITHMS, checksumHeader } from './object-headers';
import type { S3Services } from './context';
import { watchBody } from './body-watchdog';
import { header } from './context';

interface UploadBody {
  body: Readable;
  /** Declared payload size (decoded size for aws-chunked), when the client sent one. */
  declaredSize?: number;
  /** Checksums to store with the object; final once `body` has ended. */
  checksums(): ChecksumMap;
  /** The checksum algorithms the request named (x-amz-checksum-* headers, the trailer, x-amz-sdk-checksum-algorithm). */
  named: ReadonlySet<ChecksumAlgorithm>;
}

interface UploadBodyOptions {
  /** Also compute this algorithm when the request names none of its own (UploadPart of an upload created with it). */
  compute?: ChecksumAlgorithm;
  /**
   * The request's x-amz-checksum-* headers describe something else than this body (the object a
   * CompleteMultipartUpload assembles): neither verified nor computed over it.
   */
  checksumHeadersAreNotForTheBody?: boolean;
}

type Checksum = ReturnType<typeof createChecksum>;

/** Verifies Content-MD5 and checksums at the end of a body, and bounds its size (also used by POST uploads). */
export class IntegrityCheck extends Transform {
  private readonly md5 = createHash('md5');
  private readonly running = new Map<ChecksumAlgorithm, Checksum>();
  readonly computed: ChecksumMap = {};

  private received = 0;

  constructor(
    private readonly contentMd5: string | undefined,
    private readonly expected: ChecksumMap,
    compute: Iterable<ChecksumAlgorithm>,
    private readonly maxSize: number,
  ) {
    super();
    for (const alg of compute) this.running.set(alg, createChecksum(alg));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    // Counted on the bytes that arrive, whatever the headers claimed (chunked bodies have none).
    if (this.received > this.maxSize) {
      callback(s3Error('EntityTooLarge'));
      return;
    }
    if (this.contentMd5 !== undefined) this.md5.update(chunk);
    for (const checksum of this.running.values()) checksum.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    void this.verify().then(() => callback(), callback);
  }

  private async verify(): Promise<void> {
    if (this.contentMd5 !== undefined && this.md5.digest('base64') !== this.contentMd5) throw s3Error('BadDigest');
    for (const [alg, checksum] of this.running) {
      const value = await checksum.digestBase64();
      const expected = this.expected[alg];
      if (expected !== undefined && expected !== value) {
        throw s3Error('BadDigest', `The ${checksumHeader(alg)} you specified did not match the calculated checksum.`);
      }
      this.computed[alg] = value;
    }
  }
}

function parseContentMd5(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Buffer.from(value, 'base64').length !== 16) throw s3Error('InvalidDigest');
  return value;
}

function declaredSize(request: FastifyRequest, awsChunked: boolean): number | undefined {
  // x-amz-decoded-content-length only means something for aws-chunked bodies.
  const raw = (awsChunked ? header(request, 'x-amz-decoded-content-length') : undefined) ?? header(request, 'content-length');
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw s3Error('InvalidArgument', 'Content-Length must be a whole number.');
  return Number(raw);
}

/** Checksum algorithms named by headers: values to verify, and algorithms to compute and store. */
function requestedChecksums(
  request: FastifyRequest,
  options: UploadBodyOptions,
  trailer: ChecksumAlgorithm | undefined,
): { expected: ChecksumMap; compute: Set<ChecksumAlgorithm>; named: Set<ChecksumAlgorithm> } {
  const expected: ChecksumMap = {};
  const compute = new Set<ChecksumAlgorithm>();
  const named = new Set<ChecksumAlgorithm>();
  if (trailer) named.add(trailer);
  if (options.checksumHeadersAreNotForTheBody) return { expected, compute, named };
  for (const alg of CHECKSUM_ALGORITHMS) {
    const value = header(request, checksumHeader(alg));
    if (value !== undefined) {
      expected[alg] = value;
      compute.add(alg);
      named.add(alg);
    }
  }
  const sdkAlg = header(request, 'x-amz-sdk-checksum-algorithm')?.toUpperCase();
  if (sdkAlg !== undefined) {
    if (!CHECKSUM_ALGORITHMS.includes(sdkAlg as ChecksumAlgorithm)) throw s3Error('InvalidRequest', `Checksum algorithm ${sdkAlg} is not supported.`);
    named.add(sdkAlg as ChecksumAlgorithm);
    // With a trailer, the aws-chunked decoder verifies the value; nothing to compute here.
    if (header(request, 'x-amz-trailer') === undefined) compute.add(sdkAlg as ChecksumAlgorithm);
  }
  if (options.compute && named.size === 0) compute.add(options.compute);
  return { expected, compute, named };
}

/** What a body needs from the services: metrics, and the server's body timeouts. */
type BodyServices = Pick<S3Services, 'metrics' | 'config'>;

export function prepareUploadBody(
  request: FastifyRequest,
  auth: AuthResult,
  services: BodyServices,
  op: string,
  maxSize: number,
  options: UploadBodyOptions = {},
): UploadBody {
  const { metrics } = services;
  const raw = request.raw;
  const awsChunked = auth.payload.kind === 'streaming-signed' || auth.payload.kind === 'streaming-unsigned-trailer';
  const size = declaredSize(request, awsChunked);
  const chunkedTransfer = header(request, 'transfer-encoding') !== undefined;
  if (size === undefined && !chunkedTransfer) throw s3Error('MissingContentLength');
  if (size !== undefined && size > maxSize) throw s3Error('EntityTooLarge');

  const verifier: BodyVerifier | undefined = createBodyVerifier(auth.payload, request.headers);
  // Named by x-amz-trailer (aws-chunked bodies only; the decoder has already validated the header).
  const trailer = awsChunked ? announcedChecksumTrailer(request.headers) : undefined;
  const { expected, compute, named } = requestedChecksums(request, options, trailer);
  const integrity = new IntegrityCheck(parseContentMd5(header(request, 'content-md5')), expected, compute, maxSize);
  const stages: Transform[] = [...(verifier ? [verifier] : []), integrity, metrics.countBytes(op, 'in')];
  const first = stages[0];
  const body = (stages.length === 1 ? first : pipeline(stages as [Transform, ...Transform[]], () => undefined)) as Readable;

  const abort = (cause?: unknown): void => {
    if (!raw.complete) first.destroy(ufsError('Aborted', 'The client closed the connection before the body was complete.', cause));
  };
  raw.once('aborted', abort);
  raw.once('error', abort);
  raw.once('close', () => abort());
  raw.pipe(first);
  // A client too slow to send its body: the upload fails (no object, no temp file) with 400 RequestTimeout.
  const { bodyIdleTimeoutMs, bodyMinBytesPerSecond } = services.config.server;
  watchBody(raw, { idleTimeoutMs: bodyIdleTimeoutMs, minBytesPerSecond: bodyMinBytesPerSecond }, (err) => {
    raw.unpipe(first);
    first.destroy(err);
  });

  return {
    body,
    declaredSize: size,
    named,
    checksums(): ChecksumMap {
      const trailing = verifier?.trailingChecksum();
      return trailing ? { ...integrity.computed, [trailing.algorithm]: trailing.value } : { ...integrity.computed };
    },
  };
}

/** Reads a small request body (an XML document) through the same verification, up to `limit` bytes. */
export async function readSmallBody(
  request: FastifyRequest,
  auth: AuthResult,
  services: BodyServices,
  op: string,
  limit: number,
  options: UploadBodyOptions = {},
): Promise<Buffer> {
  const hasBody = header(request, 'content-length') !== undefined || header(request, 'transfer-encoding') !== undefined;
  if (!hasBody) return Buffer.alloc(0);
  const tooLarge = (): S3Error => s3Error('MalformedXML', 'The XML document is larger than this request accepts.');
  let body: Readable;
  try {
    ({ body } = prepareUploadBody(request, auth, services, op, limit, options));
  } catch (err) {
    throw err instanceof S3Error && err.code === 'EntityTooLarge' ? tooLarge() : err;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (err) {
    body.destroy();
    throw err instanceof S3Error && err.code === 'EntityTooLarge' ? tooLarge() : err;
  }
  return Buffer.concat(chunks);
}
