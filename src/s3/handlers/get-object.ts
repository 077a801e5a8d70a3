/**
 * GetObject and HeadObject: conditionals, Range and partNumber, response-* overrides.
 * The body streams from the UFS at the client's pace (fastify pipes it with backpressure
 * and destroys the source when the client goes away).
 */
import { pipeline } from 'node:stream';
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

export async function handleGetObject(ctx: S3Context<ReadOp>): Promise<void> {
  const { endpoint, request, reply, signal } = ctx;
  assertNullVersion(endpoint.query);
  const bucket = await ctx.services.buckets.get(endpoint.bucket);
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

  const partNumber = endpoint.query.get('partNumber');
  const rangeHeader = header(request, 'range');
  if (partNumber !== undefined && rangeHeader !== undefined) {
    throw s3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  }
  let range: ByteRange | undefined;
  if (partNumber !== undefined) {
    const part = partRange(info, partNumber);
    range = part === 'whole' ? undefined : part;
  } else {
    range = parseRange(rangeHeader, info.size);
  }

  const wholeObject = range === undefined;
  setObjectHeaders(reply, info, wholeObject && header(request, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED');
  if (endpoint.op === 'GetObject') applyResponseOverrides(reply, endpoint.query);
  reply.header('content-length', String(range ? range.end - range.start + 1 : info.size));
  if (range) {
    reply.code(206);
    reply.header('content-range', contentRange(range, info.size));
  }

  if (endpoint.op === 'HeadObject' || info.size === 0) {
    await reply.send();
    return;
  }
  const body = await bucket.adapter.read(endpoint.key, range, signal);
  // pipeline (not pipe) so a UFS error mid-body destroys the response instead of hanging it.
  await reply.send(pipeline(body, ctx.services.metrics.countBytes('GetObject', 'out'), () => undefined));
}
