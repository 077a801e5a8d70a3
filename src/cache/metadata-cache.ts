/**
 * Cached stat results (including "does not exist") in memory, backed by the persistent
 * MetadataStore so a restarted node knows what it had. Freshness (TTL) is decided by the
 * caller; this only stores entries.
 *
 * An entry is decoded once (ObjectInfo with its Date) when it enters memory, and its derived
 * values (the page id of the version) are computed once per entry: a warm read does no
 * deserialisation and no hashing.
 *
 * The entries in memory are held by the memory tier (memory-tier.ts), in the same budget and
 * the same recency order as the pages there, each charged its estimated heap bytes
 * (memory-accounting.ts); the tier also bounds their number (cache.metadata.maxEntries). An
 * entry the tier sheds is still in the persistent store: the next get decodes it again.
 */
import type { ObjectInfo } from '../../ufs-adapters/types';
import { metadataEntryHeapBytes } from './memory-accounting';
import { deserializeInfo, serializeInfo } from './object-version';
import type { MetadataRecord, MetadataStore } from './types';

/** A cached stat answer. Treat as immutable: it is shared by every reader. */
export interface MetadataEntry {
  /** The object as the store described it; null for "does not exist" (a negative entry). */
  readonly info: ObjectInfo | null;
  /** When the store was asked (epoch ms). */
  readonly fetchedAt: number;
  /**
   * In a cluster: the ownership record (cluster/ownership-history.ts) current when the store was
   * asked. The entry is served only while this node owned the key in every record since.
   */
  readonly seq?: number;
  /** Page-id prefix of this version, computed on first use (see BucketCache). */
  objectId?: string;
  /** Memo of the cluster's ownership check: the last record through which ownership was verified. */
  verifiedSeq?: number;
}

/** Where the entries in memory are held (the memory tier). */
interface MetadataMemory {
  /** The entry, marked most recently used. */
  getMeta(metaKey: string): MetadataEntry | undefined;
  /** Holds an entry charged `bytes` (replacing any under the same key). */
  setMeta(metaKey: string, entry: MetadataEntry, bytes: number): void;
  deleteMeta(metaKey: string): boolean;
  metaEntries(): Iterable<[string, MetadataEntry]>;
}

const toEntry = (record: MetadataRecord): MetadataEntry => ({ info: record.info && deserializeInfo(record.info), fetchedAt: record.fetchedAt, seq: record.seq });

export class MetadataCache {
  constructor(
    private readonly store: MetadataStore,
    private readonly memory: MetadataMemory,
    private readonly onError: (operation: string, err: unknown) => void,
  ) {}

  get(metaKey: string): MetadataEntry | undefined {
    const inMemory = this.memory.getMeta(metaKey);
    if (inMemory) return inMemory;
    try {
      const stored = this.store.getMeta(metaKey);
      if (!stored) return undefined;
      const entry = toEntry(stored);
      this.hold(metaKey, entry);
      return entry;
    } catch (err) {
      this.onError('metadata-get', err);
      return undefined;
    }
  }

  /** Records a stat answer (memory now, the persistent store in the background); returns the entry. */
  set(metaKey: string, info: ObjectInfo | null, fetchedAt: number, seq?: number): MetadataEntry {
    const entry: MetadataEntry = seq === undefined ? { info, fetchedAt } : { info, fetchedAt, seq };
    this.hold(metaKey, entry);
    try {
      this.store.putMeta(metaKey, seq === undefined ? { info: info && serializeInfo(info), fetchedAt } : { info: info && serializeInfo(info), fetchedAt, seq });
    } catch (err) {
      this.onError('metadata-put', err);
    }
    return entry;
  }

  delete(metaKey: string): void {
    this.memory.deleteMeta(metaKey);
    try {
      this.store.deleteMeta(metaKey);
    } catch (err) {
      this.onError('metadata-delete', err);
    }
  }

  /** Entries under a key prefix (memory and store), for purges. */
  entries(prefix: string): [string, MetadataEntry][] {
    const found = new Map<string, MetadataEntry>();
    for (const [k, v] of this.memory.metaEntries()) if (k.startsWith(prefix)) found.set(k, v);
    try {
      for (const [k, v] of this.store.scanMeta(prefix)) if (!found.has(k)) found.set(k, toEntry(v));
    } catch (err) {
      this.onError('metadata-scan', err);
    }
    return [...found];
  }

  async deletePrefix(prefix: string): Promise<void> {
    const doomed: string[] = [];
    for (const [k] of this.memory.metaEntries()) if (k.startsWith(prefix)) doomed.push(k);
    for (const k of doomed) this.memory.deleteMeta(k);
    await this.store.deleteMetaPrefix(prefix);
  }

  private hold(metaKey: string, entry: MetadataEntry): void {
    this.memory.setMeta(metaKey, entry, metadataEntryHeapBytes(metaKey, entry));
  }

  /**
   * Entries fetched before this time are never fresh: they must be revalidated with the store
   * (they may still be served stale while it is down). Raised when a clustered node starts (what
   * it kept on disk may be out of date) and when an owner is told it missed writes it cannot
   * name (an overflowing invalidation relay). A ring change does not raise it: entries whose key
   * moved are refused one by one (see BucketCache, trusted).
   */
  get validAfter(): number {
    return this.watermark;
  }

  private watermark = 0;

  /** Every entry fetched before `time` must be revalidated before it is used again. */
  expireBefore(time: number): void {
    this.watermark = Math.max(this.watermark, time);
  }
}
