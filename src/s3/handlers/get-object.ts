/**
 * GetObject and HeadObject: conditionals, Range and partNumber, response-* overrides.
 * The body streams from the UFS at the client's pace (fastify pipes it with backpressure
 * and destroys the source when the client goes away).
 */
import { pipeline, type Readable } from 'node:stream';
import { isUfsError } from '../../../ufs-adapters/errors';
import type { ByteRange, ObjectInfo, UfsAdapter } from '../../../ufs-adapters/types';
import { SMALL_BODY_BYTES, exactLength, readExactly } from '../exact-length';
import { checkConditions } from '../conditions';
import { header, type EndpointOf, type S3Context } from '../context';
import { s3Error, S3Error } from '../errors';
import { applyResponseOverrides, setObjectHeaders } from '../object-headers';
import { contentRange, parseRange } from '../range';

type ReadOp = EndpointOf<'GetObject' | 'HeadObject'>;

export function assertNullVersion(query: ReadonlyMap<string, string>): void {
  const versionId = query.get('versionId');
  if (versionId !== undefined && versionId !== 'null') throw s3Error('InvalidArgument', 'Invalid version id specified');
}

/** The byte range of part `partNumber` (1-based) of an object (a single-PUT object is one part). */
function partRange(info: ObjectInfo, partNumberText: string): ByteRange {
  const partNumber = Number(partNumberText);
  if (!/^\d+$/.test(partNumberText) || partNumber < 1 || partNumber > 10000) {
    throw s3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
  }
  const sizes = info.partSizes ?? [info.size];
  if (partNumber > sizes.length) throw new S3Error('InvalidRange', 'The requested partnumber is not satisfiable', { headers: { 'content-range': `bytes */${info.size}` } });
  const start = sizes.slice(0, partNumber - 1).reduce((a, b) => a + b, 0);
  return { start, end: start + sizes[partNumber - 1] - 1 };
}

/** A key the store cannot represent cannot exist in it: reads answer NoSuchKey, as S3 would. */
export async function statForRead(adapter: UfsAdapter, key: string, signal?: AbortSignal): Promise<ObjectInfo> {
  try {
    return await adapter.stat(key, signal);
  } catch (err) {
    if (isUfsError(err, 'InvalidKey')) throw s3Error('NoSuchKey', undefined, err);
    throw err;
  }
}

/** How often a GET re-resolves an object that changed between its stat and its read. */
const VERSION_RACE_ATTEMPTS = 3;

export async function handleGetObject(ctx: S3Context<ReadOp>): Promise<void> {
  const { endpoint, request, reply, signal } = ctx;
  assertNullVersion(endpoint.query);
  const bucket = await ctx.services.buckets.get(endpoint.bucket);
  const partNumber = endpoint.query.get('partNumber');
  const rangeHeader = header(request, 'range');
  if (partNumber !== undefined && rangeHeader !== undefined) {
    throw s3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  }

  for (let attempt = 1; ; attempt++) {
    const info = await statForRead(bucket.adapter, endpoint.key, signal);
    try {
      checkConditions(
        {
          ifMatch: header(request, 'if-match'),
          ifNoneMatch: header(request, 'if-none-match'),
          ifModifiedSince: header(request, 'if-modified-since'),
          ifUnmodifiedSince: header(request, 'if-unmodified-since'),
        },
        info,
      );
    } catch (err) {
      // A 304 still tells caches which version they hold.
      reply.header('etag', info.etag);
      reply.header('last-modified', info.lastModified.toUTCString());
      throw err;
    }
    let range: ByteRange | undefined;
    if (partNumber !== undefined) {
      range = info.size === 0 ? undefined : partRange(info, partNumber);
    } else {
      range = parseRange(rangeHeader, info.size);
    }
    const length = range ? range.end - range.start + 1 : info.size;

    let body: Readable | Buffer | undefined;
    if (endpoint.op === 'GetObject' && info.size > 0) {
      try {
        // ifMatch: the bytes must be of the version whose headers we are about to send.
        // Always an explicit range: the store must not send more than the headers announce.
        const stream = await bucket.adapter.read(endpoint.key, range ?? { start: 0, end: info.size - 1 }, { signal, ifMatch: info.etag, noStore: ctx.placement.kind !== 'owner' });
        body = length <= SMALL_BODY_BYTES ? await readExactly(stream, length) : stream;
      } catch (err) {
        if (!isUfsError(err, 'PreconditionFailed')) throw err;
        if (attempt === VERSION_RACE_ATTEMPTS) throw s3Error('ServiceUnavailable', 'The object is changing too fast to be read; retry.', err);
        continue; // it changed between stat and read: resolve it again
      }
    }

    setObjectHeaders(reply, info, range === undefined && header(request, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED');
    if (endpoint.op === 'GetObject') applyResponseOverrides(reply, endpoint.query, ctx.auth.kind === 'signed');
    if (partNumber !== undefined) reply.header('x-amz-mp-parts-count', String(info.partSizes?.length ?? 1));
    reply.header('content-length', String(length));
    if (range) {
      reply.code(206);
      reply.header('content-range', contentRange(range, info.size));
    }
    if (!body) {
      await reply.send();
      return;
    }
    const bytesOut = ctx.services.metrics.bytes.labels('GetObject', 'out');
    if (Buffer.isBuffer(body)) {
      bytesOut.inc(body.length);
      await reply.send(body);
      return;
    }
    // pipeline (not pipe) so a store error mid-body destroys the response instead of hanging it.
    await reply.send(pipeline(body, exactLength(length, (n) => bytesOut.inc(n)), () => undefined));
    return;
  }
}
