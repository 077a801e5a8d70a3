/**
 * POST /_ringcache/cache/purge?bucket=B&key=K   (or &prefix=P)
 * Drops one object, or every object under a prefix, from the cache (metadata and pages).
 * Signed with SigV4 like any S3 request; the key needs write access to the bucket.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { authorize } from '../s3/authorize';
import { sendJsonError } from './json-error';
import type { Callers } from './admin-access';

export function registerPurgeRoute(app: FastifyInstance, opts: { buckets: BucketRegistry; callers: Callers }): void {
  app.post('/cache/purge', async (request: FastifyRequest, reply: FastifyReply) => {
    try {
      const { auth, credential } = opts.callers.of(request);
      const query = request.query as Record<string, string | undefined>;
      const bucketName = query.bucket;
      if (!bucketName || (query.key === undefined) === (query.prefix === undefined)) {
        return reply.code(400).send({ error: 'InvalidArgument', message: 'give bucket and exactly one of key or prefix' });
      }
      authorize(auth, credential, 'write', { name: bucketName, anonymousRead: false });
      const bucket = await opts.buckets.get(bucketName);
      if (!bucket.cache) return reply.send({ purged: 0, cache: 'disabled' });
      const purged = await bucket.cache.purge(query.key !== undefined ? { key: query.key } : { prefix: query.prefix as string });
      return reply.send({ purged });
    } catch (err) {
      return sendJsonError(request, reply, err, 'purge');
    }
  });
}
