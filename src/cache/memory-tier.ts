/**
 * Memory tier of the page cache: where the most recently used cached pages live, and the
 * decoded metadata entries, all under one byte budget (`cache.memory.maxBytes`).
 *
 * This tier does not decide what is cached: the page store's policy (S3-FIFO over memory and
 * disk together, see tiered-page-store.ts) does. The tier is a placement: it holds the pages
 * the policy keeps that were used most recently, and when its budget is exceeded it sheds its
 * least recently used item. A shed page is handed to `onShed` (the page store writes it to
 * disk if the policy still keeps it: demotion); a shed metadata entry is simply dropped (it is
 * persisted in the disk tier's `meta` database, or in the in-memory metadata store).
 *
 * The budget counts what the cache holds on the heap, not only page bytes:
 *   page data + a measured overhead per page item     (the pages held here)
 *   the estimated size of each metadata entry         (metadata-accounting.ts)
 *   `reserved` bytes set by the owner                  (the policy's and the disk tier's
 *                                                       bookkeeping for every cached page)
 * so that metadata and pages compete for the same bytes in one recency order: whichever was
 * used least recently goes first.
 *
 * Structure: one intrusive doubly linked list of every item in recency order, plus a second
 * list threading only the metadata items (the same order restricted to them) so that the
 * entry bound `maxMetadataEntries` also sheds in O(1). Maps from key to item (one for pages,
 * one for metadata: the key spaces are separate). A hit is a Map lookup and a few pointer
 * writes: no allocation. The PageLookup a hit returns is made once, when the page is placed.
 *
 * `maxBytes` 0 disables the page side (placePage refuses everything); metadata entries are
 * then bounded by their count only, and no byte budget applies.
 *
 * Buffers are kept by reference, not copied (except a small view of a much larger
 * allocation, see compact()): callers must treat a page handed to placePage() or returned by
 * getPage() as immutable.
 */
import type { MetadataEntry } from './metadata-cache';
import { PAGE_ITEM_HEAP_BYTES } from './memory-accounting';
import type { PageLookup } from './types';

interface MemoryTierStats {
  /** Page data bytes held. */
  bytes: number;
  pages: number;
  /** Estimated heap bytes of the metadata entries held. */
  metadataBytes: number;
  metadataEntries: number;
  /** Bookkeeping charged to the budget: per page item, plus what the owner reserved. */
  overheadBytes: number;
  /** Everything the budget counts: bytes + metadataBytes + overheadBytes. */
  usedBytes: number;
}

interface MemoryTierOptions {
  /** Called with each page shed to make room (after it left the tier). Must not throw. */
  onShed?: (pageKey: string, data: Buffer) => void;
  /** Metadata entries held at most (besides the byte budget). Default 100,000. */
  maxMetadataEntries?: number;
}

/** A page held by the tier, as the page store sees it. */
interface MemoryPage {
  readonly page: PageLookup | null;
  /** Placed ahead of the read it belongs to, which has not looked it up yet (see Placement 'ahead'). */
  unread: boolean;
}

/** One cached item: a page (page set) or a metadata entry (meta set). One shape for both. */
class MemoryItem implements MemoryPage {
  older: MemoryItem | null = null;
  newer: MemoryItem | null = null;
  olderMeta: MemoryItem | null = null;
  newerMeta: MemoryItem | null = null;
  unread = false;

  constructor(
    readonly key: string,
    /** Bytes this item counts against the budget. */
    public bytes: number,
    readonly page: PageLookup | null,
    public meta: MetadataEntry | null,
  ) {}
}

export class MemoryTier {
  readonly maxBytes: number;
  readonly maxMetadataEntries: number;
  private readonly onShed: (pageKey: string, data: Buffer) => void;

  private readonly pages = new Map<string, MemoryItem>();
  private readonly metas = new Map<string, MemoryItem>();
  /** Every item, newest first (`newest` .. `oldest` through `older`). */
  private newest: MemoryItem | null = null;
  private oldest: MemoryItem | null = null;
  /** Metadata items only, same order. */
  private newestMeta: MemoryItem | null = null;
  private oldestMeta: MemoryItem | null = null;

  private pageDataBytes = 0;
  private metaBytes = 0;
  private reservedBytes = 0;
  private shedding = false;

  constructor(maxBytes: number, options: MemoryTierOptions = {}) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`memory maxBytes must be a non-negative integer, got ${maxBytes}`);
    const maxEntries = options.maxMetadataEntries ?? 100_000;
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxMetadataEntries must be a positive integer, got ${maxEntries}`);
    this.maxBytes = maxBytes;
    this.maxMetadataEntries = maxEntries;
    this.onShed = options.onShed ?? (() => undefined);
  }

  /** Whether pages can be held (maxBytes > 0). */
  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  // ---- pages -------------------------------------------------------------------------------

  /** The page (marking it most recently used), or undefined. Allocates nothing. */
  getPage(pageKey: string): PageLookup | undefined {
    return this.getItem(pageKey)?.page ?? undefined;
  }

  /** The page's item (marking it most recently used), or undefined: its lookup and its unread flag. Allocates nothing. */
  getItem(pageKey: string): MemoryPage | undefined {
    const item = this.pages.get(pageKey);
    if (item === undefined) return undefined;
    this.touch(item);
    return item;
  }

  /** The page without changing its recency (hand-off to another node, tooling). */
  peekPage(pageKey: string): PageLookup | undefined {
    return this.pages.get(pageKey)?.page ?? undefined;
  }

  hasPage(pageKey: string): boolean {
    return this.pages.has(pageKey);
  }

  /** Whether a page of `size` bytes can be held at all (enabled, and not larger than the whole budget). */
  fits(size: number): boolean {
    return this.maxBytes > 0 && size + PAGE_ITEM_HEAP_BYTES <= this.maxBytes;
  }

  /**
   * Holds a page as the most recently used item, then sheds least recently used items while
   * the budget is exceeded (the new page itself only if it alone does not fit). Returns false,
   * storing nothing, when the page cannot be held (see fits) or is held already. A disk read
   * (a view of its own record) is kept as it is: promotion costs no copy.
   */
  placePage(pageKey: string, data: Buffer, unread = false): boolean {
    if (!this.fits(data.length) || this.pages.has(pageKey)) return false;
    const kept = compact(data);
    const item = new MemoryItem(pageKey, kept.length + PAGE_ITEM_HEAP_BYTES, { data: kept, tier: 'memory' }, null);
    item.unread = unread;
    this.pages.set(pageKey, item);
    this.pageDataBytes += kept.length;
    this.link(item);
    this.shed();
    return true;
  }

  /** Removes a page without handing it to onShed (the policy evicted it, or it moves to another tier); returns its data. */
  deletePage(pageKey: string): Buffer | undefined {
    const item = this.pages.get(pageKey);
    if (item === undefined) return undefined;
    this.removePage(item);
    return (item.page as PageLookup).data;
  }

  /** Removes every page of one object version; returns their keys. O(pages held). */
  dropObject(objectId: string): string[] {
    const prefix = `${objectId}/`;
    const doomed: string[] = [];
    for (const key of this.pages.keys()) if (key.startsWith(prefix)) doomed.push(key);
    for (const key of doomed) this.deletePage(key);
    return doomed;
  }

  /** Keys of the pages held, least recently used first. */
  *pageKeysOldestFirst(): Generator<string> {
    for (let item = this.oldest; item !== null; item = item.newer) if (item.page !== null) yield item.key;
  }

  // ---- metadata ----------------------------------------------------------------------------

  /** The entry (marking it most recently used), or undefined. Allocates nothing. */
  getMeta(metaKey: string): MetadataEntry | undefined {
    const item = this.metas.get(metaKey);
    if (item === undefined) return undefined;
    this.touch(item);
    return item.meta as MetadataEntry;
  }

  hasMeta(metaKey: string): boolean {
    return this.metas.has(metaKey);
  }

  /** Holds (or replaces) an entry of `bytes` estimated bytes as the most recently used item, then sheds as needed. */
  setMeta(metaKey: string, entry: MetadataEntry, bytes: number): void {
    const existing = this.metas.get(metaKey);
    if (existing !== undefined) {
      this.metaBytes += bytes - existing.bytes;
      existing.bytes = bytes;
      existing.meta = entry;
      this.touch(existing);
    } else {
      const item = new MemoryItem(metaKey, bytes, null, entry);
      this.metas.set(metaKey, item);
      this.metaBytes += bytes;
      this.link(item);
      if (this.metas.size > this.maxMetadataEntries && this.oldestMeta !== null) this.removeMeta(this.oldestMeta);
    }
    this.shed();
  }

  deleteMeta(metaKey: string): boolean {
    const item = this.metas.get(metaKey);
    if (item === undefined) return false;
    this.removeMeta(item);
    return true;
  }

  /** Metadata entries held, in no particular order (purges scan them for a prefix). */
  *metaEntries(): Generator<[string, MetadataEntry]> {
    for (const [key, item] of this.metas) yield [key, item.meta as MetadataEntry];
  }

  // ---- budget ------------------------------------------------------------------------------

  /** Sets the bytes the owner charges to this budget (its bookkeeping); sheds if it grew past the budget. */
  reserve(bytes: number): void {
    this.reservedBytes = bytes;
    this.shed();
  }

  get usedBytes(): number {
    return this.pageDataBytes + this.pages.size * PAGE_ITEM_HEAP_BYTES + this.metaBytes + this.reservedBytes;
  }

  stats(): MemoryTierStats {
    const overheadBytes = this.pages.size * PAGE_ITEM_HEAP_BYTES + this.reservedBytes;
    return {
      bytes: this.pageDataBytes,
      pages: this.pages.size,
      metadataBytes: this.metaBytes,
      metadataEntries: this.metas.size,
      overheadBytes,
      usedBytes: this.pageDataBytes + this.metaBytes + overheadBytes,
    };
  }

  /** Forgets every item (onShed is not called). */
  clear(): void {
    this.pages.clear();
    this.metas.clear();
    this.newest = this.oldest = this.newestMeta = this.oldestMeta = null;
    this.pageDataBytes = this.metaBytes = 0;
  }

  // ---------------------------------------------------------------------------------------

  /**
   * Sheds least recently used items until the budget holds. Not re-entrant: onShed may place
   * or remove items (the page store evicts other pages for room on disk); the outer loop then
   * re-checks the budget.
   */
  private shed(): void {
    if (this.maxBytes === 0 || this.shedding) return;
    this.shedding = true;
    try {
      while (this.usedBytes > this.maxBytes && this.oldest !== null) {
        const item = this.oldest;
        if (item.page !== null) {
          this.removePage(item);
          this.onShed(item.key, item.page.data);
        } else this.removeMeta(item);
      }
    } finally {
      this.shedding = false;
    }
  }

  private removePage(item: MemoryItem): void {
    this.pages.delete(item.key);
    this.pageDataBytes -= item.bytes - PAGE_ITEM_HEAP_BYTES;
    this.unlink(item);
  }

  private removeMeta(item: MemoryItem): void {
    this.metas.delete(item.key);
    this.metaBytes -= item.bytes;
    this.unlink(item);
    const { olderMeta, newerMeta } = item;
    if (olderMeta !== null) olderMeta.newerMeta = newerMeta;
    else this.oldestMeta = newerMeta;
    if (newerMeta !== null) newerMeta.olderMeta = olderMeta;
    else this.newestMeta = olderMeta;
    item.olderMeta = item.newerMeta = null;
  }

  /** Links a new item as the newest. */
  private link(item: MemoryItem): void {
    item.older = this.newest;
    if (this.newest !== null) this.newest.newer = item;
    else this.oldest = item;
    this.newest = item;
    if (item.meta !== null) {
      item.olderMeta = this.newestMeta;
      if (this.newestMeta !== null) this.newestMeta.newerMeta = item;
      else this.oldestMeta = item;
      this.newestMeta = item;
    }
  }

  private unlink(item: MemoryItem): void {
    const { older, newer } = item;
    if (older !== null) older.newer = newer;
    else this.oldest = newer;
    if (newer !== null) newer.older = older;
    else this.newest = older;
    item.older = item.newer = null;
  }

  /** Makes an item the newest (in both lists for metadata). */
  private touch(item: MemoryItem): void {
    if (item !== this.newest) {
      this.unlink(item);
      item.older = this.newest;
      (this.newest as MemoryItem).newer = item;
      this.newest = item;
    }
    if (item.meta !== null && item !== this.newestMeta) {
      const { olderMeta, newerMeta } = item;
      if (olderMeta !== null) olderMeta.newerMeta = newerMeta;
      else this.oldestMeta = newerMeta;
      if (newerMeta !== null) newerMeta.olderMeta = olderMeta;
      item.olderMeta = this.newestMeta;
      item.newerMeta = null;
      (this.newestMeta as MemoryItem).newerMeta = item;
      this.newestMeta = item;
    }
  }
}

/**
 * A Buffer that is a small view of a much larger allocation (a slice of a network read, say)
 * would pin the whole allocation while the budget counts only the view: keep a copy instead.
 */
function compact(data: Buffer): Buffer {
  return data.buffer.byteLength > data.length + (data.length >> 3) + 4096 ? Buffer.from(data) : data;
}
