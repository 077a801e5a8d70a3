/**
 * Admin endpoints under the reserved path prefix /_ringcache/ on the S3 port ("_" is not
 * allowed in bucket names, so it can never shadow a path-style bucket). JSON errors.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics';
import type { BucketRegistry } from '../mounts/bucket-registry';

export const ADMIN_PREFIX = '/_ringcache';

export async function adminPlugin(app: FastifyInstance, opts: { metrics: Metrics; buckets: BucketRegistry }): Promise<void> {
  app.setErrorHandler((err: Error & { statusCode?: number }, _request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    void reply.code(status).send({ error: status === 500 ? 'internal error' : err.message });
  });

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });

  app.get('/healthz', async () => {
    const buckets = await opts.buckets.list();
    return { status: 'ok', buckets: buckets.length };
  });
}
