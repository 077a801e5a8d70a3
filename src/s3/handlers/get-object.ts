/**
 * GetObject and HeadObject: conditionals, Range and partNumber, response-* overrides.
 * The body streams from the UFS at the client's pace (fastify pipes it with backpressure
 * and destroys the source when the client goes away).
 */
import { pipeline, type Readable } from 'node:stream';
import { isUfsError } from '../../../ufs-adapters/errors';
import type { ByteRange, ObjectInfo } from '../../../ufs-adapters/types';
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

/** The byte range of part `partNumber` (1-based) of an object. */
function partRange(info: ObjectInfo, partNumberText: string): ByteRange | 'whole' {
  const partNumber = Number(partNumberText);
  if (!/^\d+$/.test(partNumberText) || partNumber < 1 || partNumber > 10000) {
    throw s3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive');
  }
  const sizes = info.partSizes ?? [info.size];
  if (partNumber > sizes.length) throw new S3Error('InvalidRange', 'The requested partnumber is not satisfiable', { headers: { 'content-range': `bytes */${info.size}` } });
  if (!info.partSizes) return 'whole';
  const start = sizes.slice(0, partNumber - 1).reduce((a, b) => a + b, 0);
  return { start, end: start + sizes[partNumber - 1] - 1 };
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
    const info = await bucket.adapter.stat(endpoint.key, signal);
    checkConditions(
      {
        ifMatch: header(request, 'if-match'),
        ifNoneMatch: header(request, 'if-none-match'),
        ifModifiedSince: header(request, 'if-modified-since'),
        ifUnmodifiedSince: header(request, 'if-unmodified-since'),
      },
      info,
    );
    let range: ByteRange | undefined;
    if (partNumber !== undefined) {
      const part = partRange(info, partNumber);
      range = part === 'whole' ? undefined : part;
    } else {
      range = parseRange(rangeHeader, info.size);
    }

    let body: Readable | undefined;
    if (endpoint.op === 'GetObject' && info.size > 0) {
      try {
        // ifMatch: the bytes must be of the version whose headers we are about to send.
        body = await bucket.adapter.read(endpoint.key, range, { signal, ifMatch: info.etag });
      } catch (err) {
        if (!isUfsError(err, 'PreconditionFailed')) throw err;
        if (attempt === VERSION_RACE_ATTEMPTS) throw s3Error('ServiceUnavailable', 'The object is changing too fast to be read; retry.', err);
        continue; // it changed between stat and read: resolve it again
      }
    }

    setObjectHeaders(reply, info, range === undefined && header(request, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED');
    if (endpoint.op === 'GetObject') applyResponseOverrides(reply, endpoint.query);
    reply.header('content-length', String(range ? range.end - range.start + 1 : info.size));
    if (range) {
      reply.code(206);
      reply.header('content-range', contentRange(range, info.size));
    }
    if (!body) {
      await reply.send();
      return;
    }
    // pipeline (not pipe) so a UFS error mid-body destroys the response instead of hanging it.
    await reply.send(pipeline(body, ctx.services.metrics.countBytes('GetObject', 'out'), () => undefined));
    return;
  }
}
