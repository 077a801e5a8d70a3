/**
 * GetObject and HeadObject through fastify (the warm-hit path in hit-path.ts answers what it can
 * before this runs). One stat resolves the version, `planRead` decides status, range and headers,
 * and the reader the placement chose supplies exactly those bytes of that version. The body
 * streams at the client's pace (fastify pipes it with backpressure and destroys the source when
 * the client goes away).
 */
import { isUfsError } from '../../../ufs-adapters/errors';
import type { EndpointOf, S3Context } from '../context';
import { s3Error } from '../errors';
import { readerFor, statForRead } from '../object-reader';
import { firstByteOf, planRead, type ReadRequest } from '../read-plan';
import { lookedUp } from '../acl/acl-access';

type ReadOp = EndpointOf<'GetObject' | 'HeadObject'>;

/** How often a GET re-resolves an object that changed between its stat and its read. */
const VERSION_RACE_ATTEMPTS = 3;

export async function handleGetObject(ctx: S3Context<ReadOp>): Promise<void> {
  const { endpoint, request, reply, signal, bucket } = ctx;
  const readRequest: ReadRequest = {
    op: endpoint.op,
    partNumber: endpoint.partNumber,
    query: endpoint.query,
    headers: request.headers,
    signed: ctx.auth.kind === 'signed',
  };
  const reader = readerFor(bucket, ctx.placement);
  const firstByte = firstByteOf(readRequest);

  for (let attempt = 1; ; attempt++) {
    const info = await lookedUp(ctx.access, () => statForRead(reader, endpoint.key, signal, firstByte));
    const plan = planRead(readRequest, info);
    let body;
    if (plan.range) {
      try {
        body = await reader.open(endpoint.key, info, plan.range, signal);
      } catch (err) {
        if (!isUfsError(err, 'PreconditionFailed')) throw err;
        if (attempt === VERSION_RACE_ATTEMPTS) throw s3Error('ServiceUnavailable', 'The object is changing too fast to be read; retry.', err);
        continue; // it changed between stat and read: resolve it again
      }
    }
    reply.code(plan.status);
    for (let i = 0; i < plan.headers.length; i += 2) reply.header(plan.headers[i], plan.headers[i + 1]);
    if (body === undefined) {
      await reply.send();
      return;
    }
    const bytesOut = ctx.services.metrics.bytesCells.cell('GetObject', 'out');
    if (Buffer.isBuffer(body)) bytesOut.add(body.length);
    else reply.raw.once('finish', () => bytesOut.add(plan.length));
    await reply.send(body);
    return;
  }
}
