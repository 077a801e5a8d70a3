/**
 * Every bucket as an operator needs to see it: where it is mounted (URI with credentials
 * hidden), its metadata TTLs, its store call limits, and its serve-stale state: whether cached
 * objects may be served while its store is unreachable, for how long, and whether that is
 * happening now (this node's last calls to the store failed).
 */
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import type { RingcacheConfig } from '../config/schema';
import type { BucketRegistry } from '../mounts/bucket-registry';
import type { StoreHealthView } from '../mounts/store-health';
import { redactUri } from './redact-uri';

export interface BucketOverview {
  name: string;
  origin: 'mount' | 'dataDir';
  /** The mount URI, user info and secret-looking query values replaced by "***". */
  uri: string;
  store: string;
  anonymousRead: boolean;
  cached: boolean;
  metadataTtlSeconds: number;
  negativeTtlSeconds: number;
  timeoutMs: number;
  maxConcurrency: number;
  serveStale: {
    enabled: boolean;
    maxStalenessSeconds: number;
    /** Serving stale now: enabled, and this node's calls to the store are failing. */
    active: boolean;
  };
  /** This node's view of the store's calls. */
  health: StoreHealthView;
}

const UNKNOWN: StoreHealthView = { state: 'unknown', lastOkAt: null, lastFailureAt: null, lastFailure: null, failuresInARow: 0 };

/** The store behind a bucket: the URI the registry built its adapter from. */
function bucketUri(config: Pick<RingcacheConfig, 'dataDir' | 'mounts'>, bucket: string): string | undefined {
  const mount = Object.hasOwn(config.mounts, bucket) ? config.mounts[bucket] : undefined;
  if (mount) return mount.uri;
  return config.dataDir ? pathToFileURL(path.join(config.dataDir, bucket)).href : undefined;
}

export async function bucketOverview(
  config: Pick<RingcacheConfig, 'dataDir' | 'mounts' | 'cache'>,
  buckets: BucketRegistry,
  health: (uri: string) => StoreHealthView | undefined,
): Promise<BucketOverview[]> {
  const { cache } = config;
  return (await buckets.list()).map((bucket) => {
    const mount = bucket.origin === 'mount' && Object.hasOwn(config.mounts, bucket.name) ? config.mounts[bucket.name] : undefined;
    const uri = bucketUri(config, bucket.name) ?? '';
    const state = health(uri) ?? UNKNOWN;
    const staleEnabled = cache.enabled && cache.serveStale.enabled;
    return {
      name: bucket.name,
      origin: bucket.origin,
      uri: redactUri(uri),
      store: bucket.store.kind,
      anonymousRead: bucket.anonymousRead,
      cached: bucket.cache !== undefined,
      metadataTtlSeconds: mount?.metadataTtlSeconds ?? cache.metadata.ttlSeconds,
      negativeTtlSeconds: cache.metadata.negativeTtlSeconds,
      timeoutMs: mount?.timeoutMs ?? 30_000,
      maxConcurrency: mount?.maxConcurrency ?? 64,
      serveStale: { enabled: staleEnabled, maxStalenessSeconds: cache.serveStale.maxStalenessSeconds, active: staleEnabled && state.state === 'failing' },
      health: state,
    };
  });
}
