/**
 * Cached stat results (including "does not exist") in memory, backed by the persistent
 * MetadataStore so a restarted node knows what it had. Freshness (TTL) is decided by the
 * caller; this only stores records.
 */
import { LRUCache } from 'lru-cache';
import type { MetadataRecord, MetadataStore } from './types';

export class MetadataCache {
  private readonly memory: LRUCache<string, MetadataRecord>;

  constructor(
    private readonly store: MetadataStore,
    maxEntries: number,
    private readonly onError: (operation: string, err: unknown) => void,
  ) {
    this.memory = new LRUCache({ max: maxEntries });
  }

  get(metaKey: string): MetadataRecord | undefined {
    const inMemory = this.memory.get(metaKey);
    if (inMemory) return inMemory;
    try {
      const stored = this.store.getMeta(metaKey);
      if (stored) this.memory.set(metaKey, stored);
      return stored;
    } catch (err) {
      this.onError('metadata-get', err);
      return undefined;
    }
  }

  set(metaKey: string, record: MetadataRecord): void {
    this.memory.set(metaKey, record);
    try {
      this.store.putMeta(metaKey, record);
    } catch (err) {
      this.onError('metadata-put', err);
    }
  }

  delete(metaKey: string): void {
    this.memory.delete(metaKey);
    try {
      this.store.deleteMeta(metaKey);
    } catch (err) {
      this.onError('metadata-delete', err);
    }
  }

  /** Records under a key prefix (memory and store), for purges. */
  entries(prefix: string): [string, MetadataRecord][] {
    const found = new Map<string, MetadataRecord>();
    for (const [k, v] of this.memory.entries()) if (k.startsWith(prefix)) found.set(k, v);
    try {
      for (const [k, v] of this.store.scanMeta(prefix)) if (!found.has(k)) found.set(k, v);
    } catch (err) {
      this.onError('metadata-scan', err);
    }
    return [...found];
  }

  async deletePrefix(prefix: string): Promise<void> {
    for (const k of [...this.memory.keys()]) if (k.startsWith(prefix)) this.memory.delete(k);
    await this.store.deleteMetaPrefix(prefix);
  }

  /**
   * Records fetched before this time are never fresh: they must be revalidated with the store
   * (they may still be served stale while it is down). Raised when the ring changes, so a node
   * that was away does not trust what it knew before.
   */
  get validAfter(): number {
    return this.watermark;
  }

  private watermark = 0;

  /** Every record fetched before `time` must be revalidated before it is used again. */
  expireBefore(time: number): void {
    this.watermark = Math.max(this.watermark, time);
  }
}
