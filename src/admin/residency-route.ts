/**
 * GET /_ringcache/cache/object?bucket=B&key=K
 * Which pages of an object this node's cache holds (memory, disk), for the version its
 * metadata knows: `{ node, cached: false }` or `{ node, cached: true, size, etag, pages, memory, disk }`.
 * Signed with SigV4; the key needs read access to the bucket. Operators (and the cluster
 * tests) use it to see that an object's pages sit on its owner.
 */
import type { FastifyInstance } from 'fastify';
import type { Credential } from '../config/schema';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { authenticate } from '../s3/auth';
import { authorize } from '../s3/authorize';
import { toS3Error } from '../s3/errors';
import { CachingAdapter } from '../cache/caching-adapter';

export function registerResidencyRoute(app: FastifyInstance, opts: { buckets: BucketRegistry; credentials: readonly Credential[]; nodeId: () => string }): void {
  const byKey = new Map(opts.credentials.map((c) => [c.accessKeyId, c]));

  app.get('/cache/object', async (request, reply) => {
    try {
      const auth = await authenticate(
        { method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers, now: new Date() },
        (id) => byKey.get(id)?.secretAccessKey,
      );
      const { bucket: bucketName, key } = request.query as Record<string, string | undefined>;
      if (!bucketName || key === undefined) return reply.code(400).send({ error: 'InvalidArgument', message: 'give bucket and key' });
      const credential = auth.kind === 'signed' ? byKey.get(auth.accessKeyId) : undefined;
      authorize(auth, credential, 'read', { name: bucketName, anonymousRead: false });
      const bucket = await opts.buckets.get(bucketName);
      const residency = bucket.adapter instanceof CachingAdapter ? bucket.adapter.residency(key) : undefined;
      return reply.send(residency ? { node: opts.nodeId(), cached: true, ...residency } : { node: opts.nodeId(), cached: false });
    } catch (err) {
      const s3 = toS3Error(err);
      return reply.code(s3.status).send({ error: s3.code, message: s3.message });
    }
  });
}
