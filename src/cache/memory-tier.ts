/**
 * Memory tier of the page cache: a byte-budgeted LRU of page Buffers keyed by pageKey.
 *
 * Why plain LRU: it is simple, every operation is O(1) (lru-cache keeps a linked list over
 * typed arrays, no per-access allocation), and the workloads in front of this cache are
 * analytics readers that re-read the same hot pages (Parquet footers, dictionary pages,
 * the columns of a recurring query) — exactly what recency captures. A one-off full scan
 * does flush the tier, but the damage is bounded by the budget and the disk tier behind it
 * still holds the hot set, so promotion refills memory quickly; a scan-resistant policy
 * (2Q, TinyLFU) would add bookkeeping for a gain this tier does not need yet.
 *
 * Buffers are kept by reference, not copied: callers must treat a page handed to put() or
 * returned by get() as immutable.
 */
import { LRUCache } from 'lru-cache';
import type { PageStoreEvents } from './types';

export interface MemoryTierStats {
  bytes: number;
  pages: number;
}

export class MemoryTier {
  private readonly cache: LRUCache<string, Buffer> | undefined;

  /** `maxBytes` 0 disables the tier: every get misses and put stores nothing. */
  constructor(
    readonly maxBytes: number,
    private readonly events: PageStoreEvents,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`memory maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.cache =
      maxBytes === 0
        ? undefined
        : new LRUCache<string, Buffer>({
            maxSize: maxBytes,
            // A page larger than the whole budget is not stored (lru-cache's default maxEntrySize).
            sizeCalculation: (page) => Math.max(1, page.length),
            dispose: (page, _key, reason) => {
              if (reason === 'evict') this.events.evicted('memory', 1, page.length);
            },
          });
  }

  get enabled(): boolean {
    return this.cache !== undefined;
  }

  /** The page (marking it most recently used), or undefined. */
  get(pageKey: string): Buffer | undefined {
    return this.cache?.get(pageKey);
  }

  has(pageKey: string): boolean {
    return this.cache?.has(pageKey) ?? false;
  }

  /** Stores a page; returns whether it was stored (false: disabled, present, or too large). */
  put(pageKey: string, data: Buffer): boolean {
    const cache = this.cache;
    if (!cache || data.length > this.maxBytes || cache.has(pageKey)) return false;
    cache.set(pageKey, compact(data));
    this.events.stored('memory', data.length);
    return true;
  }

  delete(pageKey: string): boolean {
    return this.cache?.delete(pageKey) ?? false;
  }

  /** Deletes every page of one object version; returns their keys. */
  dropObject(objectId: string): string[] {
    const cache = this.cache;
    if (!cache) return [];
    const prefix = `${objectId}/`;
    const doomed: string[] = [];
    for (const key of cache.keys()) if (key.startsWith(prefix)) doomed.push(key);
    for (const key of doomed) cache.delete(key);
    return doomed;
  }

  stats(): MemoryTierStats {
    return { bytes: this.cache?.calculatedSize ?? 0, pages: this.cache?.size ?? 0 };
  }

  clear(): void {
    this.cache?.clear();
  }
}

/**
 * A Buffer that is a small view of a much larger allocation (a slice of a network read, say)
 * would pin the whole allocation while the budget counts only the view: keep a copy instead.
 */
function compact(data: Buffer): Buffer {
  return data.buffer.byteLength > data.length + (data.length >> 3) + 4096 ? Buffer.from(data) : data;
}
