/**
 * stat (HeadObject) and read (GetObject with Range and If-Match).
 */
import { GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { PassThrough, Readable, Transform, addAbortSignal } from 'node:stream';
import { isUfsError, ufsError } from '../errors';
import type { ByteRange, ObjectInfo, ReadOptions } from '../types';
import { quoteEtag, sameEtag, stripQuotes, type S3Context } from './s3-context';
import { mapS3Error } from './s3-errors';
import { metadataFromHead, objectInfoFromHead, partSizesFromHead } from './s3-metadata';

export async function headObject(ctx: S3Context, storeKey: string, signal?: AbortSignal): Promise<HeadObjectCommandOutput> {
  return ctx.call('stat object', signal, () =>
    ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: storeKey, ChecksumMode: 'ENABLED' }), { abortSignal: signal }),
  );
}

export async function statObject(ctx: S3Context, key: string, signal?: AbortSignal): Promise<ObjectInfo> {
  return objectInfoFromHead(key, await headObject(ctx, ctx.storeKey(key), signal));
}

/** What a commit produced: the version's ETag (quoted) and Last-Modified. */
interface CommittedVersion {
  etag: string;
  lastModified: Date;
}

/** True for an ETag a store actually answered: not missing, not empty, not `""`. */
export const knownEtag = (etag: string | undefined): etag is string => etag !== undefined && stripQuotes(etag.trim()) !== '';

/**
 * The ETag and Last-Modified of the version just written. PutObject and
 * CompleteMultipartUpload do not return Last-Modified, and some stores answer an empty ETag
 * (Ceph RGW 16 sends `<ETag></ETag>` for CompleteMultipartUpload): so a HEAD follows.
 * - `answered` known: it is the ETag; Last-Modified comes from the HEAD when the HEAD shows
 *   that version, else (HEAD failed, or another writer replaced the object meanwhile) from
 *   the local clock, the best answer left.
 * - `answered` empty or missing ("unknown"): both come from the HEAD (tried twice); when no
 *   HEAD answers, the commit's outcome cannot be described and the call fails Unavailable.
 */
export async function committedVersion(ctx: S3Context, storeKey: string, answered: string | undefined, signal?: AbortSignal): Promise<CommittedVersion> {
  if (knownEtag(answered)) {
    const etag = quoteEtag(answered);
    try {
      const out = await ctx.client.send(new HeadObjectCommand({ Bucket: ctx.bucket, Key: storeKey }), { abortSignal: signal });
      if (out.LastModified && sameEtag(out.ETag, etag)) return { etag, lastModified: out.LastModified };
    } catch {
      // fall through
    }
    return { etag, lastModified: new Date() };
  }
  let failure: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const out = await headObject(ctx, storeKey, signal);
      if (knownEtag(out.ETag)) return { etag: quoteEtag(out.ETag), lastModified: out.LastModified ?? new Date() };
      failure = ufsError('Unavailable', 'the object store gave the new object no ETag');
    } catch (err) {
      failure = err;
      if (isUfsError(err, 'Aborted')) break;
    }
  }
  throw isUfsError(failure) && failure.kind !== 'NotFound'
    ? failure
    : ufsError('Unavailable', 'the object store did not say which version it committed', failure);
}

/**
 * Errors before the first byte (missing key, changed version, store down) are thrown as UFS
 * errors. With `ifMatch` the store checks If-Match; the ETag of the reply is checked as well,
 * for S3-compatible stores that ignore If-Match on GET. Later stream errors are UFS errors too.
 */
export async function readObject(ctx: S3Context, key: string, range: ByteRange | undefined, options: ReadOptions = {}): Promise<Readable> {
  const { signal, ifMatch } = options;
  const storeKey = ctx.storeKey(key);
  const out = await ctx.call('read object', signal, () =>
    ctx.client.send(
      new GetObjectCommand({
        Bucket: ctx.bucket,
        Key: storeKey,
        Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        IfMatch: ifMatch,
      }),
      { abortSignal: signal },
    ),
  );
  const body = out.Body as Readable | undefined;
  const fail = (error: Error): never => {
    body?.destroy();
    throw error;
  };
  if (!body || typeof (body as Readable).pipe !== 'function') return fail(ufsError('Unavailable', 'read object: the object store sent no body'));
  if (ifMatch !== undefined && out.ETag !== undefined && !sameEtag(out.ETag, ifMatch)) {
    fail(ufsError('PreconditionFailed', 'read object: the object changed since it was looked up'));
  }
  let stream: Transform = new PassThrough();
  if (range) {
    const served = servedRange(out.ContentRange, out.ContentLength);
    if (!served || served.start > range.start || served.end < range.end) {
      fail(ufsError('Unavailable', 'read object: the object store did not honour the byte range'));
    } else if (served.start !== range.start || served.end !== range.end) {
      // A store that sent more than asked (or ignored Range): cut out the requested bytes.
      stream = rangeCut(range.start - served.start, range.end - range.start + 1);
    }
  }
  // Not stream.pipeline: it would destroy `stream` with the raw error before we could map it.
  body.on('error', (err) => {
    if (!stream.destroyed && !stream.readableEnded) stream.destroy(mapS3Error(err, 'read object', signal));
  });
  const release = () => {
    if (!body.destroyed) body.destroy(); // the consumer stopped early, or the cut is complete
  };
  stream.on('close', release);
  stream.on('end', release);
  body.pipe(stream);
  return signal ? addAbortSignal(signal, stream) : stream;
}

/** The bytes a GetObject reply carries: its Content-Range, or the whole object without one. */
function servedRange(contentRange: string | undefined, contentLength: number | undefined): ByteRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/(?:\d+|\*)$/.exec(contentRange?.trim() ?? '');
  if (match) return { start: Number(match[1]), end: Number(match[2]) };
  if (contentRange === undefined && contentLength !== undefined) return { start: 0, end: Number(contentLength) - 1 };
  return undefined;
}

/** Drops `skip` bytes, passes `take` bytes, then ends. */
function rangeCut(skip: number, take: number): Transform {
  let toSkip = skip;
  let toTake = take;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (toTake === 0) return callback();
      let data = chunk;
      if (toSkip > 0) {
        const dropped = Math.min(toSkip, data.length);
        toSkip -= dropped;
        data = data.subarray(dropped);
      }
      if (data.length > toTake) data = data.subarray(0, toTake);
      toTake -= data.length;
      if (data.length > 0) this.push(data);
      if (toTake === 0) this.push(null);
      callback();
    },
  });
}

/**
 * The object's info and the bytes of `range` from one GetObject (a ranged GET carries size,
 * ETag, Last-Modified and the metadata headers). A range that starts at or past the end of the
 * object (an empty object) is answered 416 by S3: then a HEAD gives the info, with no bytes.
 * Full-object checksums are not returned for ranged GETs: the info then has none, until the
 * next stat (see README, "checksums").
 */
export async function readObjectWithInfo(ctx: S3Context, key: string, range: ByteRange, options: { signal?: AbortSignal } = {}): Promise<{ info: ObjectInfo; body: Readable }> {
  const { signal } = options;
  const storeKey = ctx.storeKey(key);
  let out;
  try {
    out = await ctx.client.send(new GetObjectCommand({ Bucket: ctx.bucket, Key: storeKey, Range: `bytes=${range.start}-${range.end}` }), { abortSignal: signal });
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416 || (err as { name?: string }).name === 'InvalidRange') {
      return { info: await statObject(ctx, key, signal), body: Readable.from([]) };
    }
    throw mapS3Error(err, 'read object', signal);
  }
  const body = out.Body as Readable | undefined;
  if (!body || typeof body.pipe !== 'function') throw ufsError('Unavailable', 'read object: the object store sent no body');
  const total = /\/(\d+)$/.exec(out.ContentRange?.trim() ?? '');
  const size = total ? Number(total[1]) : out.ContentRange === undefined && range.start === 0 ? Number(out.ContentLength ?? 0) : NaN;
  const served = servedRange(out.ContentRange, out.ContentLength);
  const want = { start: range.start, end: Math.min(range.end, size - 1) };
  if (!Number.isFinite(size) || !served || served.start > want.start || served.end < want.end) {
    body.destroy();
    throw ufsError('Unavailable', 'read object: the object store did not honour the byte range');
  }
  // A ranged GET's checksum headers describe the range or a part, not the object; the checksums
  // the adapter keeps in the object's metadata do describe it.
  const { ChecksumCRC32: _crc32, ChecksumCRC32C: _crc32c, ChecksumCRC64NVME: _crc64, ChecksumSHA1: _sha1, ChecksumSHA256: _sha256, ...described } = out;
  const info: ObjectInfo = { key, size, etag: quoteEtag(out.ETag), lastModified: out.LastModified ?? new Date(0), ...metadataFromHead(described) };
  const partSizes = partSizesFromHead(out, size);
  if (partSizes) info.partSizes = partSizes;
  let stream: Transform = new PassThrough();
  if (served.start !== want.start || served.end !== want.end) stream = rangeCut(want.start - served.start, want.end - want.start + 1);
  body.on('error', (err) => {
    if (!stream.destroyed && !stream.readableEnded) stream.destroy(mapS3Error(err, 'read object', signal));
  });
  const release = (): void => {
    if (!body.destroyed) body.destroy();
  };
  stream.on('close', release);
  stream.on('end', release);
  body.pipe(stream);
  return { info, body: signal ? addAbortSignal(signal, stream) : stream };
}
