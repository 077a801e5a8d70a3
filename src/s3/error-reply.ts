/**
 * Writes an S3 error: XML <Error> with Code, Message, Resource and RequestId, no body for
 * HEAD (and 304). If the response has already started, the connection is destroyed so the
 * client sees a failure, never a short object.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorLogLevel } from './error-log-level';
import { S3Error, toS3Error } from './errors';
import { renderXml } from './xml';

export function sendS3Error(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  const err = error instanceof S3Error ? error : fromFrameworkError(error);
  if (reply.raw.headersSent) {
    request.log.warn({ err: error, op: request.s3Op }, 'response failed after headers were sent');
    reply.raw.destroy(err);
    return;
  }
  const level = errorLogLevel(err);
  if (level === 'debug') request.log.debug({ code: err.code, op: request.s3Op }, 'error answer');
  else request.log[level]({ err: error, op: request.s3Op }, 'request failed');

  for (const [name, value] of Object.entries(err.headers ?? {})) reply.header(name, value);
  // An unread request body would otherwise be drained before the next request on this socket.
  // A request forwarded by another node is drained instead: the forwarding node is still
  // sending it and must receive this answer, not a reset (and its pooled connection stays).
  if (!request.raw.complete && request.headers['x-ringcache-hop'] === undefined) reply.header('connection', 'close');
  reply.code(err.status);
  if (request.method === 'HEAD' || err.status === 304) {
    void reply.send();
    return;
  }
  const resource = request.raw.url?.split('?')[0];
  reply.header('content-type', 'application/xml');
  void reply.send(
    renderXml('Error', { Code: err.code, Message: err.message, Resource: resource, RequestId: String(request.id) }, { namespace: false }),
  );
}

/** Fastify's own client errors (bad URL, bad headers) become S3 errors; anything else is internal. */
function fromFrameworkError(error: unknown): S3Error {
  const status = (error as { statusCode?: number })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new S3Error('InvalidRequest', 'The request could not be parsed.', { cause: error });
  }
  return toS3Error(error);
}
