/**
 * Prometheus metrics on a registry of our own (no global state). Labels stay small and
 * bounded: op (an S3 operation name), status, direction; never a bucket key.
 */
import { Transform } from 'node:stream';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CellHistogram } from './cell-histogram';
import { CounterCells } from './metric-cells';

export class Metrics {
  readonly registry = new Registry();

  /** Cells of the counters every request bumps (see metric-cells.ts); flushed when collected. */
  readonly requestCells = new CounterCells<'op' | 'status'>(['op', 'status']);
  readonly bytesCells = new CounterCells<'op' | 'direction'>(['op', 'direction']);
  readonly bytesServedCells = new CounterCells<'tier'>(['tier']);
  readonly pageLookupCells = new CounterCells<'result'>(['result']);
  readonly metadataLookupCells = new CounterCells<'result'>(['result']);
  readonly warmHitCells = new CounterCells<'op'>(['op']);

  readonly requests = new Counter({
    name: 'ringcache_s3_requests_total',
    help: 'S3 requests by operation and HTTP status',
    labelNames: ['op', 'status'] as const,
    registers: [this.registry],
    collect: () => this.requestCells.flush(),
  });

  /** Request latency by operation; observed on every request, so a CellHistogram (no label hashing per call). */
  readonly duration = new CellHistogram({
    name: 'ringcache_s3_request_duration_seconds',
    help: 'S3 request latency, from request to the end of the response',
    labelName: 'op',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registry: this.registry,
  });

  /** Observes one request's latency (the histogram keeps each op's series bound). */
  observeDuration(op: string, seconds: number): void {
    this.duration.labels(op).observe(seconds);
  }

  readonly bytes = new Counter({
    name: 'ringcache_s3_bytes_total',
    help: 'Object payload bytes received (in) and sent (out) by operation',
    labelNames: ['op', 'direction'] as const,
    registers: [this.registry],
    collect: () => this.bytesCells.flush(),
  });

  readonly warmHits = new Counter({
    name: 'ringcache_s3_warm_hits_total',
    help: 'GetObject and HeadObject requests answered by the warm-hit path (fresh metadata and a resident first page on the owner), by operation; included in ringcache_s3_requests_total',
    labelNames: ['op'] as const,
    registers: [this.registry],
    collect: () => this.warmHitCells.flush(),
  });

  readonly multipartSwept = new Counter({
    name: 'ringcache_multipart_uploads_swept_total',
    help: 'Abandoned multipart uploads removed by the sweeper',
    registers: [this.registry],
  });

  // ---- paged cache ----
  readonly cacheBytesServed = new Counter({
    name: 'ringcache_cache_bytes_served_total',
    help: 'Object bytes served by the tier they came from: memory, disk (LMDB) or ufs (a miss)',
    labelNames: ['tier'] as const,
    registers: [this.registry],
    collect: () => this.bytesServedCells.flush(),
  });

  readonly cachePageLookups = new Counter({
    name: 'ringcache_cache_page_lookups_total',
    help: 'Page lookups by result: memory, disk (hits) or miss',
    labelNames: ['result'] as const,
    registers: [this.registry],
    collect: () => this.pageLookupCells.flush(),
  });

  readonly cacheStored = new Counter({
    name: 'ringcache_cache_pages_stored_total',
    help: 'Pages stored by tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  readonly cacheEvicted = new Counter({
    name: 'ringcache_cache_pages_evicted_total',
    help: 'Pages evicted by tier',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  readonly cacheChecksumFailures = new Counter({
    name: 'ringcache_cache_checksum_failures_total',
    help: 'Disk pages whose checksum did not verify (dropped and re-read from the store)',
    registers: [this.registry],
  });

  readonly cacheErrors = new Counter({
    name: 'ringcache_cache_errors_total',
    help: 'Cache operations that failed and were treated as a miss',
    labelNames: ['operation'] as const,
    registers: [this.registry],
  });

  /** Set at each scrape from the page store (admin-plugin.ts). */
  readonly cacheResidentPages = new Gauge({
    name: 'ringcache_cache_resident_pages',
    help: 'Pages held by tier (memory, disk)',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  readonly cacheResidentBytes = new Gauge({
    name: 'ringcache_cache_resident_bytes',
    help: 'Page bytes held by tier (memory, disk)',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  /** The byte budgets of the tiers (cache.memory.maxBytes, cache.disk.maxBytes): fill = resident / quota. */
  readonly cacheQuotaBytes = new Gauge({
    name: 'ringcache_cache_quota_bytes',
    help: 'Page byte quota by tier (memory, disk): cache.memory.maxBytes and cache.disk.maxBytes',
    labelNames: ['tier'] as const,
    registers: [this.registry],
  });

  readonly singleFlightJoins = new Counter({
    name: 'ringcache_cache_singleflight_joins_total',
    help: 'Requests that joined a page read or stat already in flight instead of starting their own',
    registers: [this.registry],
  });

  readonly metadataLookups = new Counter({
    name: 'ringcache_cache_metadata_lookups_total',
    help: 'Metadata lookups: fresh (from cache), fetched (from the store), negative (cached not-found), stale (served while the store is down)',
    labelNames: ['result'] as const,
    registers: [this.registry],
    collect: () => this.metadataLookupCells.flush(),
  });

  readonly ufsReads = new Counter({
    name: 'ringcache_ufs_reads_total',
    help: 'Ranged data reads from the store (page misses)',
    labelNames: ['adapter'] as const,
    registers: [this.registry],
  });

  readonly ufsReadSeconds = new Histogram({
    name: 'ringcache_ufs_read_seconds',
    help: 'Latency of one page read from the store',
    labelNames: ['adapter'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly ufsStats = new Counter({
    name: 'ringcache_ufs_stats_total',
    help: 'Metadata requests (stat) sent to the store',
    labelNames: ['adapter'] as const,
    registers: [this.registry],
  });

  // ---- every UFS call, through src/mounts/instrumented-adapter.ts ----
  readonly ufsCalls = new Counter({
    name: 'ringcache_ufs_calls_total',
    help: 'Calls to the stores by adapter kind, operation and outcome (ok or the UFS error kind)',
    labelNames: ['adapter', 'op', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly ufsCallSeconds = new Histogram({
    name: 'ringcache_ufs_call_seconds',
    help: 'Latency of store calls (for reads and writes: until the stream is open or the write committed)',
    labelNames: ['adapter', 'op'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly ufsBytes = new Counter({
    name: 'ringcache_ufs_bytes_total',
    help: 'Bytes read from (in) and written to (out) the stores',
    labelNames: ['adapter', 'direction'] as const,
    registers: [this.registry],
  });

  // ---- cluster ----
  readonly clusterMembers = new Gauge({
    name: 'ringcache_cluster_members',
    help: 'Healthy members in this node\'s ring (itself included)',
    registers: [this.registry],
  });

  readonly clusterRingChanges = new Counter({
    name: 'ringcache_cluster_ring_changes_total',
    help: 'Times the ring was rebuilt because the healthy member set changed',
    registers: [this.registry],
  });

  readonly clusterRouted = new Counter({
    name: 'ringcache_cluster_requests_total',
    help: 'Object requests by where they were served: local (this node owns the key), from-peer (forwarded to us), forwarded, redirected, failover (a successor or this node while owners are down), uncached (no owner reachable: straight from the store)',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  readonly clusterForwardFailures = new Counter({
    name: 'ringcache_cluster_forward_failures_total',
    help: 'Forwarded requests the target did not answer (it was then marked suspect)',
    labelNames: ['peer'] as const,
    registers: [this.registry],
  });

  readonly clusterHandoffPages = new Counter({
    name: 'ringcache_cluster_handoff_pages_total',
    help: 'Warm hand-off: pages asked of the previous owner after a ring change, by result (hit, miss, error)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly clusterInvalidationsSent = new Counter({
    name: 'ringcache_cluster_invalidations_sent_total',
    help: 'Keys whose cached metadata was invalidated on their owner after a write served elsewhere, by result (sent, dropped)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  // ---- preload jobs ----
  readonly jobs = new Gauge({
    name: 'ringcache_jobs',
    help: 'Preload jobs this node coordinates (kept ones included), by state',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  /** Bumped as each key of a job coordinated here finishes (never lowered when jobs expire). */
  readonly jobKeys = new Counter({
    name: 'ringcache_jobs_keys_total',
    help: 'Keys finished by the preload jobs this node coordinated, by result (loaded, skipped: already cached, failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly jobBytes = new Counter({
    name: 'ringcache_jobs_bytes_total',
    help: 'Listed bytes of the keys finished by the preload jobs this node coordinated, by result (loaded: read from the store, skipped: already cached, failed)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor() {
    this.requestCells.attach(this.requests);
    this.bytesCells.attach(this.bytes);
    this.bytesServedCells.attach(this.cacheBytesServed);
    this.pageLookupCells.attach(this.cachePageLookups);
    this.metadataLookupCells.attach(this.metadataLookups);
    this.warmHitCells.attach(this.warmHits);
    // The series that hit ratios and tier shares are computed from exist from the start (at 0),
    // so rate() over a window sees the first lookups of a tier, not only the later ones.
    for (const result of ['memory', 'disk', 'miss']) this.cachePageLookups.labels(result).inc(0);
    for (const tier of ['memory', 'disk', 'peer', 'ufs']) this.cacheBytesServed.labels(tier).inc(0);
    for (const result of ['fresh', 'fetched', 'negative', 'stale']) this.metadataLookups.labels(result).inc(0);
    collectDefaultMetrics({ register: this.registry, prefix: 'ringcache_' });
    // prom-client also exports these sums of the per-type gauges above them as gauges named
    // `_total`, a suffix reserved for counters (promtool refuses them): sum() the per-type ones.
    for (const name of ['active_handles_total', 'active_requests_total', 'active_resources_total']) this.registry.removeSingleMetric(`ringcache_nodejs_${name}`);
  }

  /** A pass-through stream that adds the bytes it sees to the bytes counter. */
  countBytes(op: string, direction: 'in' | 'out'): Transform {
    const counter = this.bytes.labels(op, direction);
    return new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        counter.inc(chunk.length);
        callback(null, chunk);
      },
    });
  }
}
