/**
 * A bucket's own settings, its ACL and its CORS rules, kept by the bucket's store
 * (`getBucketSetting` / `putBucketSetting`, e.g. `<root>/.ringcache/settings/` of a local mount),
 * so every node of a cluster reads the same documents. Each node keeps what it read for
 * `ttlMs` (one load per bucket at a time); a change made through this node is seen here at once,
 * and by the other nodes within `ttlMs`, as S3 itself applies bucket configuration changes
 * eventually.
 */
import type { Bucket } from '../mounts/bucket-registry';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { decodeAcl, encodeAcl, type AccessControlList } from './acl/access-control-list';
import { rulesFromStored, type CorsRule } from './cors/cors-rules';
import { s3Error } from './errors';

export interface BucketSettingsDoc {
  /** The stored bucket ACL; undefined when none was set (the bucket is private). */
  acl?: AccessControlList;
  /** The CORS rules; undefined when the bucket has no CORS configuration. */
  cors?: CorsRule[];
}

interface Entry {
  value: BucketSettingsDoc;
  at: number;
}

export class BucketSettings {
  private readonly known = new WeakMap<UfsAdapter, Entry>();
  private readonly loading = new WeakMap<UfsAdapter, Promise<BucketSettingsDoc>>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The settings when this node holds a fresh copy (no I/O); undefined otherwise. */
  peek(bucket: Bucket): BucketSettingsDoc | undefined {
    const entry = this.known.get(bucket.store);
    if (entry && this.now() - entry.at < this.ttlMs) return entry.value;
    // Read it in the background, so the next request finds it (the caller goes the slow way now).
    if (this.ttlMs > 0) void this.get(bucket).catch(() => undefined);
    return undefined;
  }

  /** The settings, read from the store when this node's copy is older than the TTL. */
  get(bucket: Bucket): Promise<BucketSettingsDoc> {
    const entry = this.known.get(bucket.store);
    if (entry && this.now() - entry.at < this.ttlMs) return Promise.resolve(entry.value);
    let pending = this.loading.get(bucket.store);
    if (!pending) {
      pending = this.load(bucket.store).finally(() => this.loading.delete(bucket.store));
      this.loading.set(bucket.store, pending);
    }
    return pending;
  }

  async putAcl(bucket: Bucket, acl: AccessControlList, signal?: AbortSignal): Promise<void> {
    await settingsWriter(bucket.store)('acl', encodeAcl(acl), signal);
    this.update(bucket, { acl });
  }

  async putCors(bucket: Bucket, rules: CorsRule[] | undefined, signal?: AbortSignal): Promise<void> {
    await settingsWriter(bucket.store)('cors', rules, signal);
    this.update(bucket, { cors: rules });
  }

  private update(bucket: Bucket, change: BucketSettingsDoc): void {
    const entry = this.known.get(bucket.store);
    // Without a fresh copy of the rest, forget it all: the next request reads both documents.
    if (entry && this.now() - entry.at < this.ttlMs) this.known.set(bucket.store, { value: { ...entry.value, ...change }, at: entry.at });
    else this.known.delete(bucket.store);
  }

  private async load(store: UfsAdapter): Promise<BucketSettingsDoc> {
    const value: BucketSettingsDoc = {};
    if (store.getBucketSetting) {
      const [acl, cors] = await Promise.all([store.getBucketSetting('acl'), store.getBucketSetting('cors')]);
      value.acl = typeof acl === 'string' ? decodeAcl(acl) : undefined;
      value.cors = rulesFromStored(cors);
    }
    this.known.set(store, { value, at: this.now() });
    return value;
  }
}

/** The store's settings writer; NotImplemented for stores that cannot keep bucket settings. */
function settingsWriter(store: UfsAdapter): NonNullable<UfsAdapter['putBucketSetting']> {
  if (!store.putBucketSetting) throw s3Error('NotImplemented', `The ${store.kind} store behind this bucket cannot keep bucket settings (ACL, CORS).`);
  return store.putBucketSetting.bind(store);
}
