/**
 * Forwards an S3 request to the node that owns its key and streams the answer back: the
 * request body flows from the client to the owner and the response body from the owner to
 * the client, each with backpressure (nothing is buffered). The client's headers, including
 * Host and its SigV4 Authorization, go unchanged, so the owner verifies the very same
 * signature; the hop marker says the request must not be forwarded again.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MemberInfo } from './membership';
import { isUnreachable, type PeerClient } from './peer-client';
import { s3Error } from '../s3/errors';
import { HOP_DATE_HEADER, HOP_HEADER, HOP_SIGNATURE_HEADER } from './peer-auth';

/** Connection-level headers that are never passed on (RFC 9110, section 7.6.1), plus the hop marker itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  HOP_HEADER,
  HOP_DATE_HEADER,
  HOP_SIGNATURE_HEADER,
]);

function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name.toLowerCase())) out[name] = value;
  }
  return out;
}

/**
 * 'unreachable': the target gave no answer and nothing of the request was consumed, so the
 * caller may try another node. Errors after that point reject (the client sees a 503, or a
 * cut response once streaming started).
 */
export type ForwardOutcome = 'answered' | 'unreachable';

export class Forwarder {
  constructor(private readonly peers: PeerClient) {}

  async forward(request: FastifyRequest, reply: FastifyReply, target: MemberInfo, signal: AbortSignal): Promise<ForwardOutcome> {
    const rawUrl = request.raw.url ?? '/';
    const hasBody = request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] ?? '0') !== '0';
    let response;
    try {
      response = await this.peers.dispatch(target, {
        method: request.method as 'GET',
        path: rawUrl,
        headers: { ...endToEnd(request.headers), ...this.peers.markerFor(request.method, rawUrl) },
        body: hasBody ? request.raw : undefined,
        signal,
        // Streams back as the client reads: no pipelining behind a long body.
        blocking: true,
      });
    } catch (err) {
      // Only a node that could not be reached, with nothing of the request consumed, may be
      // replaced by another: anything else may have run on the owner already.
      if (!signal.aborted && isUnreachable(err) && !request.raw.readableDidRead) return 'unreachable';
      if (signal.aborted) throw err;
      throw s3Error('ServiceUnavailable', `The node that owns this key did not complete the request (${(err as { code?: string }).code ?? (err as Error).message}); retry.`, err);
    }
    reply.hijack();
    const res = reply.raw;
    try {
      res.statusCode = response.statusCode;
      for (const [name, value] of Object.entries(endToEnd(response.headers))) res.setHeader(name, value);
      await pipeline(response.body, res);
    } catch (err) {
      // The owner or the client went away mid-body: the response is cut, never completed wrongly.
      response.body.destroy();
      res.destroy(err as Error);
    }
    return 'answered';
  }
}
