/**
 * Cluster endpoints under /_ringcache/cluster:
 *   GET  /ring         the ring view (members, share of the key space, suspects): public, like healthz
 *   GET  /page?key=K   a cached page, for warm hand-off            (nodes only: hop marker)
 *   POST /load         warm a batch of keys here (preload jobs)     (nodes only)
 *   POST /invalidate   drop cached metadata of keys changed elsewhere (nodes only)
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CachingAdapter } from '../cache/caching-adapter';
import type { NodeCache } from '../cache/open-cache';
import { loadLocally } from '../jobs/load-locally';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { toS3Error } from '../s3/errors';
import type { ClusterNode } from './cluster-node';
import { checkPeer } from './peer-auth';

export interface ClusterPluginOptions {
  node: ClusterNode;
  secret: string | undefined;
  buckets: BucketRegistry;
  cache?: NodeCache;
}

const loadBody = z.object({
  bucket: z.string(),
  items: z.array(z.object({ key: z.string(), size: z.number() })).max(10_000),
  options: z.object({ skipCached: z.boolean(), metadataOnly: z.boolean() }),
});

const invalidateBody = z.object({ keys: z.record(z.string(), z.array(z.string())), all: z.boolean().optional() });

export async function clusterPlugin(app: FastifyInstance, opts: ClusterPluginOptions): Promise<void> {
  const peersOnly = async (request: FastifyRequest): Promise<void> => {
    const check = checkPeer(opts.secret, { method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers });
    if (check.kind !== 'peer') {
      const reason = check.kind === 'invalid' ? check.reason : 'no hop marker';
      throw Object.assign(new Error(`cluster endpoint: ${reason}`), { statusCode: 403 });
    }
  };

  app.get('/ring', async () => opts.node.view());

  app.get('/page', { preHandler: peersOnly }, async (request, reply) => {
    const key = (request.query as { key?: string }).key;
    const page = key && opts.cache ? opts.cache.store.get(key) : undefined;
    if (!page) return reply.code(404).send({ error: 'NoSuchPage' });
    return reply.header('content-type', 'application/octet-stream').send(page.data);
  });

  // Batches of up to jobs.batchKeys (10,000) keys: more than fastify's default 1 MiB of JSON.
  app.post('/load', { preHandler: peersOnly, bodyLimit: 16 * 1024 * 1024 }, async (request, reply) => {
    const parsed = loadBody.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
    const { bucket, items, options } = parsed.data;
    const controller = new AbortController();
    // The coordinator gave up (cancel, its own deadline, a crash): stop loading. (The request
    // stream closes as soon as its body is read; the response closes when the socket does.)
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) controller.abort();
    });
    try {
      return await loadLocally(opts.buckets, bucket, items, options, controller.signal);
    } catch (err) {
      const s3 = toS3Error(err);
      return reply.code(s3.status).send({ error: s3.code, message: s3.message });
    }
  });

  app.post('/invalidate', { preHandler: peersOnly }, async (request, reply) => {
    const parsed = invalidateBody.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ error: 'InvalidArgument', message: parsed.error.message });
    if (parsed.data.all) opts.cache?.shared.metadata.expireBefore(Date.now());
    let invalidated = 0;
    for (const [bucketName, keys] of Object.entries(parsed.data.keys)) {
      const bucket = await opts.buckets.get(bucketName).catch(() => undefined);
      if (!(bucket?.adapter instanceof CachingAdapter)) continue;
      for (const key of keys) bucket.adapter.invalidate(key);
      invalidated += keys.length;
    }
    return { invalidated };
  });
}
