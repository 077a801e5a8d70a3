/**
 * Bucket name -> mounted store. Buckets come from two places: configured mounts (one per
 * URI, fixed for the life of the process) and, for the embedded default, the top-level
 * folders of `dataDir`, which CreateBucket and DeleteBucket create and remove.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError } from '../config/load-config';
import type { UfsAdapter } from '../../ufs-adapters/types';
import type { BucketCache } from '../cache/bucket-cache';
import type { AdmissionRules } from '../cache/policy/admission-gate';
import { BUCKET_NAME, type RingcacheConfig } from '../config/schema';
import { bucketError } from './bucket-errors';

export interface Bucket {
  name: string;
  /** The store behind the bucket (instrumented: timeouts, concurrency bound, metrics). */
  store: UfsAdapter;
  /** This node's cache of the bucket's objects; undefined when the cache is disabled. */
  cache: BucketCache | undefined;
  createdAt: Date;
  /** "mount" buckets come from configuration and cannot be created or deleted through S3. */
  origin: 'mount' | 'dataDir';
  anonymousRead: boolean;
}

/**
 * A data-dir bucket is known without a stat of its folder for this long after it was last seen
 * (a folder removed behind the gateway's back is noticed within this time). Creations and
 * deletions through the gateway are announced to the other nodes of a cluster, which forget the
 * bucket at once (`onChange`, `forget`).
 */
export const BUCKET_RECHECK_MS = 1000;

export type BucketChange = 'created' | 'deleted';

/** Builds the adapter of a mount URI; `options` are the mount's adapter settings. */
/** The store adapter of `uri`; `limits`: the mount's store-call deadline and concurrency (a data-dir bucket has none: defaults). */
export type AdapterFactory = (uri: string, options?: Readonly<Record<string, unknown>>, limits?: StoreCallLimits) => UfsAdapter;

export interface StoreCallLimits {
  timeoutMs: number;
  maxConcurrency: number;
}

/** The cache a bucket over `store` gets (none when the cache is disabled). `mountId` is stable across restarts; `admission`: the mount's cache rules. */
type CacheFactory = (
  store: UfsAdapter,
  mountId: string,
  metadataTtlSeconds: number | undefined,
  bucket: string,
  admission?: AdmissionRules,
) => BucketCache | undefined;

async function assertEmpty(adapter: UfsAdapter): Promise<void> {
  for await (const _ of adapter.list({ prefix: '' })) throw bucketError('BucketNotEmpty');
}

/**
 * Local roots must not nest: a bucket inside another would be reachable as a prefix of the
 * outer one, bypassing its grants and exposing its .ringcache folder.
 */
function assertNoNestedRoots(config: Pick<RingcacheConfig, 'dataDir' | 'mounts'>): void {
  const roots: [string, string][] = [];
  if (config.dataDir) roots.push(['dataDir', path.resolve(config.dataDir)]);
  for (const [name, mount] of Object.entries(config.mounts)) {
    if (mount.uri.startsWith('file:')) roots.push([`mount ${name}`, path.resolve(fileURLToPath(mount.uri))]);
  }
  for (const [a, rootA] of roots) {
    for (const [b, rootB] of roots) {
      if (a !== b && (rootA === rootB || rootB.startsWith(rootA + path.sep))) {
        throw new ConfigError(`${b} (${rootB}) is inside ${a} (${rootA}): local roots must not nest`);
      }
    }
  }
}

export class BucketRegistry {
  private readonly mounted = new Map<string, Bucket>();
  private readonly dataDirBuckets = new Map<string, Bucket>();
  /** When each data-dir bucket folder was last seen to exist (a stat per request is measurable). */
  private readonly seenAt = new Map<string, { at: number; createdAt: Date }>();
  private readonly changeListeners: ((bucket: string, change: BucketChange) => Promise<void>)[] = [];

  constructor(
    private readonly config: Pick<RingcacheConfig, 'dataDir' | 'mounts'>,
    private readonly createAdapter: AdapterFactory,
    private readonly cacheFor: CacheFactory = () => undefined,
  ) {
    assertNoNestedRoots(config);
    const startedAt = new Date();
    for (const [name, mount] of Object.entries(config.mounts)) {
      const store = createAdapter(mount.uri, mount.options, mount);
      this.mounted.set(name, {
        name,
        store,
        cache: cacheFor(store, mount.uri, mount.metadataTtlSeconds, name, mount.cache),
        createdAt: startedAt,
        origin: 'mount',
        anonymousRead: mount.anonymousRead,
      });
    }
  }

  /**
   * Called after a bucket was created or deleted here, before the request is acknowledged (the
   * cluster tells the other nodes, and waits for them).
   */
  onChange(listener: (bucket: string, change: BucketChange) => Promise<void>): void {
    this.changeListeners.push(listener);
  }

  async init(): Promise<void> {
    if (this.config.dataDir) await mkdir(this.config.dataDir, { recursive: true });
  }

  /**
   * The bucket if it is known without touching the disk (a mount, or a data-dir folder this
   * registry has seen); undefined otherwise (ask `get`). For the warm-hit path, which only serves
   * objects cached from the bucket: a data-dir folder last seen over a second ago is checked
   * again in the background (a folder removed behind the gateway's back is forgotten then).
   */
  peek(name: string): Bucket | undefined {
    const mounted = this.mounted.get(name);
    if (mounted) return mounted;
    const bucket = this.dataDirBuckets.get(name);
    const seen = this.seenAt.get(name);
    if (bucket && seen && Date.now() - seen.at >= BUCKET_RECHECK_MS && !this.rechecking.has(name)) {
      this.rechecking.add(name);
      void this.dataDirBucket(name)
        .catch(() => undefined)
        .finally(() => this.rechecking.delete(name));
    }
    return bucket;
  }

  private readonly rechecking = new Set<string>();

  /** Throws NoSuchBucket. */
  async get(name: string): Promise<Bucket> {
    const bucket = this.mounted.get(name) ?? (await this.dataDirBucket(name));
    if (!bucket) throw bucketError('NoSuchBucket');
    return bucket;
  }

  async list(): Promise<Bucket[]> {
    const buckets = [...this.mounted.values()];
    if (this.config.dataDir) {
      const entries = await readdir(this.config.dataDir, { withFileTypes: true });
      for (const entry of entries) {
        if (!entry.isDirectory() || !BUCKET_NAME.test(entry.name) || this.mounted.has(entry.name)) continue;
        const bucket = await this.dataDirBucket(entry.name);
        if (bucket) buckets.push(bucket);
      }
    }
    return buckets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async create(name: string): Promise<void> {
    if (!BUCKET_NAME.test(name)) throw bucketError('InvalidBucketName');
    if (this.mounted.has(name) || (await this.dataDirBucket(name))) throw bucketError('BucketAlreadyOwnedByYou');
    if (!this.config.dataDir) {
      throw bucketError('NoDataDir');
    }
    try {
      await mkdir(this.bucketDir(name));
    } catch (err) {
      // Lost a race with another CreateBucket, or something already has that name.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw bucketError('BucketAlreadyOwnedByYou');
      throw err;
    }
    await this.announce(name, 'created');
  }

  async delete(name: string): Promise<void> {
    const bucket = await this.get(name);
    if (bucket.origin === 'mount') {
      throw bucketError('MountedBucket');
    }
    await assertEmpty(bucket.store);
    // Move the folder aside first, so a PUT racing with the delete either lands before the
    // move (and is seen by the second check) or fails with NoSuchBucket; never acknowledged
    // and then destroyed.
    const aside = path.join(this.config.dataDir as string, `.deleting-${name}-${randomUUID()}`);
    await rename(this.bucketDir(name), aside);
    const check = this.createAdapter(pathToFileURL(aside).href);
    try {
      await assertEmpty(check);
    } catch (err) {
      await rename(aside, this.bucketDir(name)).catch(() => undefined);
      throw err;
    } finally {
      await check.close();
    }
    await bucket.store.close();
    this.dataDirBuckets.delete(name);
    this.forget(name);
    await rm(aside, { recursive: true, force: true });
    await this.announce(name, 'deleted');
  }

  async close(): Promise<void> {
    const buckets = [...this.mounted.values(), ...this.dataDirBuckets.values()];
    await Promise.all(buckets.map((b) => b.store.close()));
  }

  private bucketDir(name: string): string {
    return path.join(this.config.dataDir as string, name);
  }

  private async dataDirBucket(name: string): Promise<Bucket | undefined> {
    if (!this.config.dataDir || !BUCKET_NAME.test(name)) return undefined;
    const known = this.dataDirBuckets.get(name);
    const seen = this.seenAt.get(name);
    if (known && seen && Date.now() - seen.at < BUCKET_RECHECK_MS) return known;
    let info;
    try {
      info = await stat(this.bucketDir(name));
    } catch {
      this.forget(name);
      return undefined;
    }
    if (!info.isDirectory()) return undefined;
    const createdAt = info.birthtime.getTime() > 0 ? info.birthtime : info.ctime;
    this.seenAt.set(name, { at: Date.now(), createdAt });
    let bucket = this.dataDirBuckets.get(name);
    if (!bucket || bucket.createdAt.getTime() !== createdAt.getTime()) {
      const uri = pathToFileURL(this.bucketDir(name)).href;
      const store = bucket?.store ?? this.createAdapter(uri);
      bucket = { name, store, cache: bucket?.cache ?? this.cacheFor(store, uri, undefined, name), createdAt, origin: 'dataDir', anonymousRead: false };
      this.dataDirBuckets.set(name, bucket);
    }
    return bucket;
  }

  /**
   * Whether a data-dir bucket's folder is gone (a DeleteBucket raced the request): its store then
   * reports its root missing as Unavailable, which for this bucket means NoSuchBucket. Always
   * false for a configured mount, whose missing root is an outage.
   */
  async vanished(bucket: Bucket): Promise<boolean> {
    if (bucket.origin !== 'dataDir') return false;
    this.forget(bucket.name);
    return (await this.dataDirBucket(bucket.name)) !== bucket;
  }

  /** Drops what this node knows of a data-dir bucket: the next request looks at its folder again. */
  forget(name: string): void {
    this.seenAt.delete(name);
  }

  private async announce(name: string, change: BucketChange): Promise<void> {
    for (const listener of this.changeListeners) await listener(name, change);
  }
}
