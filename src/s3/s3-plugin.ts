/**
 * The S3 REST front door as a fastify plugin: request bodies are left untouched (the
 * handlers stream `request.raw`), every request is resolved once (endpoint, signature, the
 * bucket, authorized), routed to the key's owner, then dispatched. Errors are S3 XML.
 * Warm hits never get here: the hit path (hit-path.ts) answers them in front of fastify.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { S3Services } from './context';
import { dispatch } from './dispatch';
import type { Placement } from '../cluster/request-router';
import { Forwarder } from '../cluster/forwarder';
import { hasHopMarker } from '../cluster/peer-auth';
import { s3Error } from './errors';
import { isUfsError } from '../../ufs-adapters/errors';
import { sendS3Error } from './error-reply';
import type { RequestResolver } from './resolve-request';
import { unsupportedHeader } from './unsupported-headers';
import { restoreContentType } from './request-intake';
import type { Endpoint } from './endpoint';
import { corsResponseHeaders } from './cors/cors-response';

declare module 'fastify' {
  interface FastifyRequest {
    /** The S3 operation name (GetObject, ...) once parsed: the `op` of logs and metrics. */
    s3Op: string;
  }
}

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'OPTIONS'] as const;
const OWNER: Placement = { kind: 'owner' };

interface S3PluginOptions extends Omit<S3Services, 'settings' | 'isKnownKey' | 'credentialOf'> {
  resolver: RequestResolver;
}

export async function s3Plugin(app: FastifyInstance, options: S3PluginOptions): Promise<void> {
  const { resolver, ...rest } = options;
  const services: S3Services = { ...rest, settings: resolver.settings, isKnownKey: resolver.isKnownKey, credentialOf: resolver.credentialOf };

  // Bodies stream from request.raw in the handlers: no parsing, no buffering.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  app.setErrorHandler((error, request, reply) => sendS3Error(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendS3Error(request, reply, s3Error('MethodNotAllowed')));

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    restoreContentType(request.raw);
    // A forwarded request: tell the forwarding node at once that this node is alive and has it
    // (102 Processing), so that it can bound how long it waits for a wedged owner.
    if (services.cluster && hasHopMarker(request.headers)) Forwarder.acknowledge(reply);
    const identified = resolver.identify(request.raw);
    const { endpoint } = identified;
    request.s3Op = endpoint.op;
    const origin = request.headers.origin;
    if (origin !== undefined && endpoint.op !== 'OptionsObject') await addCorsHeaders(resolver, endpoint, origin, request.method, reply);
    const { bucket, access } = await resolver.authorized(identified);
    const unsupported = unsupportedHeader(request.headers);
    if (unsupported) throw s3Error('NotImplemented', `Ringcache does not implement ${unsupported}.`);

    const controller = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const placement = services.cluster ? await services.cluster.router.route(request, reply, endpoint, controller.signal) : OWNER;
    if (placement.kind === 'handled') return;
    try {
      await dispatch({ ...identified, bucket, access, request, reply, services, signal: controller.signal, placement } as Parameters<typeof dispatch>[0]);
    } catch (err) {
      // A data-dir bucket deleted while this request ran: its folder is gone, so is the bucket.
      if (bucket && isUfsError(err, 'Unavailable') && (await services.buckets.vanished(bucket))) throw s3Error('NoSuchBucket', undefined, err);
      throw err;
    } finally {
      const isWrite = request.method !== 'GET' && request.method !== 'HEAD';
      // A write served for owners that were down: they must not keep the old metadata.
      if (isWrite && 'key' in endpoint && endpoint.key !== undefined && endpoint.bucket !== undefined) services.cluster?.wroteInPlaceOfOwners(placement, endpoint.bucket, endpoint.key);
    }
  };

  app.route({ method: [...METHODS], url: '/', handler });
  app.route({ method: [...METHODS], url: '/*', handler });
}

/** A cross-origin request's Access-Control-* headers, from its bucket's CORS rules (nothing when none apply). */
async function addCorsHeaders(resolver: RequestResolver, endpoint: Endpoint, origin: string | string[], method: string, reply: FastifyReply): Promise<void> {
  const name = 'bucket' in endpoint ? endpoint.bucket : undefined;
  if (name === undefined || Array.isArray(origin)) return;
  const bucket = await resolver.bucketNamed(name);
  const settings = bucket && (await resolver.settings.get(bucket).catch(() => undefined));
  const pairs = corsResponseHeaders(settings, origin, method);
  for (let i = 0; i < pairs.length; i += 2) reply.header(pairs[i], pairs[i + 1]);
}
