/**
 * GET /_ringcache/cache/object?bucket=B&key=K
 * Which pages of an object this node's cache holds (memory, disk), for the version its
 * metadata knows: `{ node, cached: false }` or `{ node, cached: true, size, etag, pages, memory, disk }`.
 * Signed with SigV4; the key needs read access to the bucket. Operators (and the cluster
 * tests) use it to see that an object's pages sit on its owner.
 */
import type { FastifyInstance } from 'fastify';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { authorize } from '../s3/authorize';
import { sendJsonError } from './json-error';
import type { Callers } from './admin-access';

export function registerResidencyRoute(app: FastifyInstance, opts: { buckets: BucketRegistry; callers: Callers; nodeId: () => string }): void {
  app.get('/cache/object', async (request, reply) => {
    try {
      const { auth, credential } = opts.callers.of(request);
      const { bucket: bucketName, key } = request.query as Record<string, string | undefined>;
      if (!bucketName || key === undefined) return reply.code(400).send({ error: 'InvalidArgument', message: 'give bucket and key' });
      authorize(auth, credential, 'read', { name: bucketName, anonymousRead: false });
      const bucket = await opts.buckets.get(bucketName);
      const residency = bucket.cache?.residency(key);
      return reply.send(residency ? { node: opts.nodeId(), cached: true, ...residency } : { node: opts.nodeId(), cached: false });
    } catch (err) {
      return sendJsonError(request, reply, err, 'residency lookup');
    }
  });
}
