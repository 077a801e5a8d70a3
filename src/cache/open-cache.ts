/**
 * Opens the node's cache (one page store and one metadata cache shared by every mount) and
 * hands each bucket its cache (`forBucket`).
 */
import type { UfsAdapter } from '../../ufs-adapters/types';
import type { RingcacheConfig } from '../config/schema';
import type { Metrics } from '../admin/metrics';
import { BucketCache, type CacheSettings } from './bucket-cache';
import type { SharedCache } from './shared-cache';
import { MetadataCache } from './metadata-cache';
import { PageFills } from './page-fill';
import { PageStash } from './page-stash';
import { AdmissionGate, type AdmissionRules } from './policy/admission-gate';
import { TieredPageStore } from './tiered-page-store';
import type { PageStoreEvents } from './types';
import { prepareDiskEnvironment, type EnvironmentLog } from './disk-environment';

export interface NodeCache {
  shared: SharedCache;
  store: TieredPageStore;
  /**
   * The cache of a bucket over `store`; `metadataTtlSeconds` overrides the cache-wide TTL for
   * that mount, `admission` holds the mount's rules (maxObjectBytes, minUses).
   */
  forBucket(store: UfsAdapter, mountId: string, metadataTtlSeconds: number | undefined, bucket: string, admission?: AdmissionRules): BucketCache;
  close(): Promise<void>;
}

function pageStoreEvents(metrics: Metrics, log: EnvironmentLog): PageStoreEvents {
  return {
    stored: (tier) => metrics.cacheStored.labels(tier).inc(),
    evicted: (tier, pages) => metrics.cacheEvicted.labels(tier).inc(pages),
    checksumFailure: () => metrics.cacheChecksumFailures.inc(),
    error: (operation, err) => {
      metrics.cacheErrors.labels(operation).inc();
      log.warn({ err, operation }, 'cache operation failed; treated as a miss');
    },
  };
}

export async function openNodeCache(config: RingcacheConfig['cache'], metrics: Metrics, log: EnvironmentLog): Promise<NodeCache> {
  const events = pageStoreEvents(metrics, log);
  // A damaged environment would kill the process when mapped: checked first, moved aside if need be.
  await prepareDiskEnvironment(config.disk.path, config.disk.maxBytes, log);
  const store = await TieredPageStore.open({
    memoryBytes: config.memory.maxBytes,
    disk: config.disk,
    events,
    pageSize: config.pageSize,
    maxMetadataEntries: config.metadata.maxEntries,
  });
  const shared: SharedCache = {
    pages: store,
    metadata: new MetadataCache(store.metadata, store.memory, events.error),
    pageFills: new PageFills(() => metrics.singleFlightJoins.inc()),
    admission: new AdmissionGate(),
    unkept: new PageStash(),
    metrics,
  };
  metrics.cacheResidentPages.reset();
  metrics.cacheResidentBytes.reset();
  const settings = (ttlSeconds: number, bucket: string, admission: AdmissionRules | undefined): CacheSettings => ({
    bucket,
    pageSize: config.pageSize,
    readAheadPages: config.readAheadPages,
    storeIdleTimeoutMs: config.storeIdleTimeoutMs,
    metadataTtlMs: ttlSeconds * 1000,
    negativeTtlMs: config.metadata.negativeTtlSeconds * 1000,
    serveStale: config.serveStale.enabled,
    maxStalenessMs: config.serveStale.maxStalenessSeconds * 1000,
    ...(admission ? { admission } : {}),
  });
  return {
    shared,
    store,
    forBucket: (store, mountId, ttl, bucket, admission) => new BucketCache(store, mountId, shared, settings(ttl ?? config.metadata.ttlSeconds, bucket, admission)),
    close: () => store.close(),
  };
}
