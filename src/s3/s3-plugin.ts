/**
 * The S3 REST front door as a fastify plugin: request bodies are left untouched (the
 * handlers stream `request.raw`), every request is parsed into an Endpoint, authenticated
 * (SigV4), authorized, then dispatched. Errors are S3 XML.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Credential } from '../config/schema';
import { authenticate } from './auth';
import { authorize } from './authorize';
import type { S3Services } from './context';
import { dispatch } from './dispatch';
import { CachingAdapter } from '../cache/caching-adapter';
import type { Placement } from '../cluster/request-router';
import { OPERATION_ACCESS, parseEndpoint } from './endpoint';
import { s3Error } from './errors';
import { sendS3Error } from './error-reply';

declare module 'fastify' {
  interface FastifyRequest {
    /** The S3 operation name (GetObject, ...) once parsed: the `op` of logs and metrics. */
    s3Op: string;
  }
}

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] as const;
const OWNER: Placement = { kind: 'owner' };

export async function s3Plugin(app: FastifyInstance, services: S3Services): Promise<void> {
  const credentials = new Map<string, Credential>(services.config.credentials.map((c) => [c.accessKeyId, c]));
  const lookupSecret = (accessKeyId: string): string | undefined => credentials.get(accessKeyId)?.secretAccessKey;

  // Bodies stream from request.raw in the handlers: no parsing, no buffering.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  app.setErrorHandler((error, request, reply) => sendS3Error(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendS3Error(request, reply, s3Error('MethodNotAllowed')));

  const handler = async (request: FastifyRequest, reply: import('fastify').FastifyReply): Promise<void> => {
    const endpoint = parseEndpoint(
      { method: request.method, rawUrl: request.raw.url ?? '/', host: request.headers.host, headers: request.headers },
      services.config.server.baseDomain,
    );
    request.s3Op = endpoint.op;
    const auth = await authenticate(
      { method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers, now: new Date() },
      lookupSecret,
    );
    const credential = auth.kind === 'signed' ? credentials.get(auth.accessKeyId) : undefined;
    const required = OPERATION_ACCESS[endpoint.op];
    const bucketName = 'bucket' in endpoint ? endpoint.bucket : undefined;
    // Anonymous access depends on the bucket's mount settings; signed access only on grants.
    const bucketForAuth =
      bucketName === undefined
        ? undefined
        : auth.kind === 'anonymous'
          ? await services.buckets.get(bucketName).catch(() => ({ name: bucketName, anonymousRead: false }))
          : { name: bucketName, anonymousRead: false };
    authorize(auth, credential, required, bucketForAuth, endpoint.op);
    rejectUnsupportedHeaders(request);

    const controller = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    const placement = services.cluster ? await services.cluster.router.route(request, reply, endpoint, controller.signal) : OWNER;
    if (placement.kind === 'handled') return;
    try {
      await dispatch({ endpoint, request, reply, auth, credential, services, signal: controller.signal, placement });
    } finally {
      if (placement.kind !== 'owner' && 'key' in endpoint && endpoint.key !== undefined && endpoint.bucket !== undefined) {
        if (request.method === 'GET' || request.method === 'HEAD') {
          // Served for an owner that is away: keep nothing of it (the owner may change it unseen).
          await forgetCached(services, endpoint.bucket, endpoint.key);
        } else {
          // A write served for owners that were down: they must not keep the old metadata.
          services.cluster?.relay.relay(endpoint.bucket, [endpoint.key], placement.ownersAhead.map((m) => m.id));
        }
      }
    }
  };

  app.route({ method: [...METHODS], url: '/', handler });
  app.route({ method: [...METHODS], url: '/*', handler });
}

async function forgetCached(services: S3Services, bucketName: string, key: string): Promise<void> {
  const bucket = await services.buckets.get(bucketName).catch(() => undefined);
  if (bucket?.adapter instanceof CachingAdapter) bucket.adapter.invalidate(key);
}

/**
 * Headers whose meaning Ringcache cannot honour. Ignoring them would be worse than refusing:
 * SSE-C data would be stored in plaintext and readable without the key; object-lock
 * retention would not hold; tags would vanish.
 */
const UNSUPPORTED_HEADERS = [
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-customer-algorithm',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-copy-source-server-side-encryption-customer-algorithm',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
  'x-amz-tagging',
];

function rejectUnsupportedHeaders(request: FastifyRequest): void {
  const found = UNSUPPORTED_HEADERS.find((name) => request.headers[name] !== undefined);
  if (found) throw s3Error('NotImplemented', `Ringcache does not implement ${found}.`);
}

/** S3-style request ids: 16 upper-case hex characters, a random per-process prefix and a counter. */
const ID_PREFIX = randomBytes(3).toString('hex').toUpperCase();
let idCounter = 0;
export const newRequestId = (): string => ID_PREFIX + (idCounter++ % 0x10000000000).toString(16).toUpperCase().padStart(10, '0');
