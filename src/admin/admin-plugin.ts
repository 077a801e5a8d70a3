/**
 * Admin endpoints under the reserved path prefix /_ringcache/ on the S3 port ("_" is not
 * allowed in bucket names, so it can never shadow a path-style bucket). JSON errors.
 */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics';
import type { BucketRegistry } from '../mounts/bucket-registry';
import type { NodeCache } from '../cache/open-cache';
import type { MemberFanout } from '../cluster/member-fanout';
import type { Callers } from './admin-access';
import type { BucketOverview } from './bucket-overview';
import { registerDashboardRoutes } from './dashboard-routes';
import { NodeStats } from './node-stats';
import { registerPurgeRoute } from './purge-route';
import { registerResidencyRoute } from './residency-route';
import { registerUiRoutes } from './ui-routes';
import { jsonErrorHandler } from './json-error';

export const ADMIN_PREFIX = '/_ringcache';

interface AdminOptions {
  metrics: Metrics;
  buckets: BucketRegistry;
  /** Who is calling (admin-access.ts). */
  callers: Callers;
  cache?: NodeCache;
  /** This node's id (the residency answer names it). */
  nodeId: () => string;
  /** Refreshes gauges owned elsewhere (preload jobs) just before a scrape. */
  beforeScrape?: () => void;
  /** Page byte quotas of the cache tiers (exported as ringcache_cache_quota_bytes); absent without a cache. */
  quotas?: { memory: number; disk: number };
  /** False while the node is joining its cluster: health checks (and peers' probes) see 503. */
  ready?: () => boolean;
  /** The dashboard (/_ringcache/ui and its API): this node as members see it, the ring version, the buckets' settings, the other members. */
  dashboard: {
    self: () => { id: string; url: string };
    ringVersion: () => string;
    buckets: () => Promise<BucketOverview[]>;
    members?: MemberFanout;
  };
}

export async function adminPlugin(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  app.setErrorHandler(jsonErrorHandler('admin request'));

  if (opts.quotas) {
    opts.metrics.cacheQuotaBytes.labels('memory').set(opts.quotas.memory);
    opts.metrics.cacheQuotaBytes.labels('disk').set(opts.quotas.disk);
  }

  app.get('/metrics', async (_request, reply) => {
    if (opts.cache) {
      const s = opts.cache.store.stats();
      const { cacheResidentPages: pages, cacheResidentBytes: bytes } = opts.metrics;
      pages.labels('memory').set(s.memoryPages);
      pages.labels('disk').set(s.diskPages);
      bytes.labels('memory').set(s.memoryBytes);
      bytes.labels('disk').set(s.diskBytes);
    }
    opts.beforeScrape?.();
    reply.header('content-type', opts.metrics.registry.contentType);
    return opts.metrics.registry.metrics();
  });

  const stats = new NodeStats({
    metrics: opts.metrics,
    fill: opts.cache
      ? () => {
          const s = (opts.cache as NodeCache).store.stats();
          const quotas = opts.quotas ?? { memory: 0, disk: 0 };
          return { memory: { bytes: s.memoryBytes, pages: s.memoryPages, quotaBytes: quotas.memory }, disk: { bytes: s.diskBytes, pages: s.diskPages, quotaBytes: quotas.disk } };
        }
      : undefined,
  });
  stats.start();
  app.addHook('onClose', async () => stats.stop());
  registerDashboardRoutes(app, { callers: opts.callers, stats, ready: () => opts.ready?.() ?? true, ...opts.dashboard });
  registerUiRoutes(app, app.prefix);

  registerPurgeRoute(app, { buckets: opts.buckets, callers: opts.callers });
  registerResidencyRoute(app, { buckets: opts.buckets, callers: opts.callers, nodeId: opts.nodeId });

  app.get('/healthz', async (_request, reply) => {
    if (opts.ready && !opts.ready()) return reply.code(503).send({ status: 'starting' });
    const buckets = await opts.buckets.list();
    return { status: 'ok', buckets: buckets.length };
  });
}
