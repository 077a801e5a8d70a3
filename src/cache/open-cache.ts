/**
 * Opens the node's cache (one page store and one metadata cache shared by every mount) and
 * returns the decorator that puts a CachingAdapter in front of each mount's adapter.
 */
import type { UfsAdapter } from '../../ufs-adapters/types';
import type { RingcacheConfig } from '../config/schema';
import type { Metrics } from '../admin/metrics';
import { CachingAdapter, type CacheSettings, type SharedCache } from './caching-adapter';
import { MetadataCache } from './metadata-cache';
import { SingleFlight } from './single-flight';
import { TieredPageStore } from './tiered-page-store';
import type { PageStoreEvents } from './types';

export interface NodeCache {
  shared: SharedCache;
  store: TieredPageStore;
  /** Wraps a mount's adapter; `metadataTtlSeconds` overrides the cache-wide TTL for that mount. */
  decorate(adapter: UfsAdapter, mountId: string, metadataTtlSeconds: number | undefined, bucket: string): UfsAdapter;
  close(): Promise<void>;
}

export function pageStoreEvents(metrics: Metrics, log: { warn(obj: object, msg: string): void }): PageStoreEvents {
  return {
    hit: () => undefined, // counted per lookup by the page reader (it also sees the misses)
    miss: () => undefined,
    stored: (tier) => metrics.cacheStored.labels(tier).inc(),
    evicted: (tier, pages) => metrics.cacheEvicted.labels(tier).inc(pages),
    checksumFailure: () => metrics.cacheChecksumFailures.inc(),
    error: (operation, err) => {
      metrics.cacheErrors.labels(operation).inc();
      log.warn({ err, operation }, 'cache operation failed; treated as a miss');
    },
  };
}

export async function openNodeCache(config: RingcacheConfig['cache'], metrics: Metrics, log: { warn(obj: object, msg: string): void }): Promise<NodeCache> {
  const events = pageStoreEvents(metrics, log);
  const store = await TieredPageStore.open({ memoryBytes: config.memory.maxBytes, disk: config.disk, events });
  const shared: SharedCache = {
    pages: store,
    metadata: new MetadataCache(store.metadata, config.metadata.maxEntries, events.error),
    pageFlights: new SingleFlight<Buffer>(() => metrics.singleFlightJoins.inc()),
    metrics,
  };
  metrics.cacheResident.reset();
  const settings = (ttlSeconds: number, bucket: string): CacheSettings => ({
    bucket,
    pageSize: config.pageSize,
    readAheadPages: config.readAheadPages,
    storeIdleTimeoutMs: config.storeIdleTimeoutMs,
    metadataTtlMs: ttlSeconds * 1000,
    negativeTtlMs: config.metadata.negativeTtlSeconds * 1000,
    serveStale: config.serveStale.enabled,
    maxStalenessMs: config.serveStale.maxStalenessSeconds * 1000,
  });
  return {
    shared,
    store,
    decorate: (adapter, mountId, ttl, bucket) => new CachingAdapter(adapter, mountId, shared, settings(ttl ?? config.metadata.ttlSeconds, bucket)),
    close: () => store.close(),
  };
}
