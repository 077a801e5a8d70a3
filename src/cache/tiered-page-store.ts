/**
 * The page store: one policy decides which pages are cached, over the memory and disk budgets
 * together; the two tiers only decide where a cached page lives (docs/cache-policy.md).
 *
 *   policy  S3-FIFO (policy/s3-fifo.ts) over memoryBytes + diskBytes - one page: a new page
 *           starts in a small FIFO and stays only if read again soon; scans and one-hit
 *           wonders leave after a short stay without touching the hot set.
 *   memory  holds the most recently used cached pages (MemoryTier: an LRU placement, in one
 *           budget with the metadata entries and the policy's bookkeeping).
 *   disk    holds the other cached pages (DiskTier: LMDB).
 *
 * The tiers are exclusive, so their bytes add up:
 *   get, memory hit   policy.access; the page becomes the most recently used. No allocation.
 *                     (Not for the first lookup of a page placed ahead of its read, with the
 *                     object's metadata: that lookup is the read that fetched it.)
 *   get, disk hit     policy.access; the page moves to memory (read, verified, deleted from
 *                     disk; the buffer read is the one kept: no extra copy).
 *   put (a miss)      policy.admit; an admitted page goes to memory; the policy's victims are
 *                     deleted from whichever tier holds them. A preloaded page is admitted as
 *                     proven (straight to S3-FIFO's main queue).
 *   memory sheds      a page pushed out of memory (demotion) is written to disk if the policy
 *                     still keeps it; a page the policy dropped while in memory (a scan, a
 *                     one-hit wonder) is never written.
 * Disk stays within its quota: the policy's budget leaves one page of slack for memory's
 * rounding, and when memory holds fewer page bytes than its budget (metadata and bookkeeping
 * share it), a demotion that would not fit first makes the policy give up its least valuable
 * pages (possibly the demoted page itself).
 *
 * At open the policy is rebuilt from the disk tier's index (S3Fifo.restore, in the order the
 * pages reached disk); at close the pages in memory are written to disk (as many as the disk
 * quota holds, the policy choosing which), so a restart keeps the hot set. A crash loses what
 * only memory held: those pages are read from the store again.
 *
 * Best-effort: get/put never throw; a failure is reported through PageStoreEvents.error and
 * behaves as a miss (get) or as nothing stored (put).
 */
import { performance } from 'node:perf_hooks';
import { DiskTier } from './disk-tier';
import { DISK_ENTRY_HEAP_BYTES, GHOST_ENTRY_HEAP_BYTES, TRACKED_PAGE_HEAP_BYTES } from './memory-accounting';
import { MemoryTier } from './memory-tier';
import { S3Fifo } from './policy/s3-fifo';
import type { MetadataStore, PageLookup, PageStore, PageStoreEvents, PageStoreStats, Placement } from './types';

export interface TieredPageStoreOptions {
  /** Memory tier budget in bytes (pages, metadata entries, bookkeeping); 0 disables the page side of it. */
  memoryBytes: number;
  /** LMDB environment directory and page-byte quota; maxBytes 0 disables the disk tier. */
  disk: { path: string; maxBytes: number };
  events: PageStoreEvents;
  /** The largest page the store is given (cache.pageSize). Default 1 MiB. */
  pageSize?: number;
  /** Metadata entries the memory tier holds at most (cache.metadata.maxEntries). Default 100,000. */
  maxMetadataEntries?: number;
  /** Clock (tests). */
  now?: () => number;
  /** See DiskTierOptions.touchIntervalMs (default 60 s). */
  touchIntervalMs?: number;
  /** See DiskTierOptions.maxPendingBytes. */
  maxPendingDiskBytes?: number;
  /** How long close() may spend writing the memory tier's pages to disk. Default 10 s. */
  closeFlushMs?: number;
}

/**
 * The policy's byte budget: both tiers, less one page of slack. Memory sheds pages until it is
 * within its budget, so after a demotion it holds more than its budget less one page; the
 * disk, holding the rest of what the policy keeps, then holds less than its quota.
 */
export function policyBytes(memoryBytes: number, diskBytes: number, pageSize: number): number {
  if (memoryBytes === 0 || diskBytes === 0) return memoryBytes + diskBytes;
  return memoryBytes + diskBytes - Math.min(pageSize, memoryBytes);
}

export class TieredPageStore implements PageStore {
  readonly policy: S3Fifo<string>;
  readonly memory: MemoryTier;
  readonly disk: DiskTier;
  /** Metadata records, persisted in the disk tier's environment (in memory if it is disabled). */
  readonly metadata: MetadataStore;
  private readonly events: PageStoreEvents;
  private readonly closeFlushMs: number;
  /**
   * Pages placed 'ahead' of their read straight onto disk (no memory tier, or a page larger
   * than it), whose first lookup is their read's. Memory items carry this as a flag; this set
   * is for the rest: it stays nearly empty (the read follows at once), bounded in case a read
   * never comes.
   */
  private readonly unreadOnDisk = new Set<string>();
  private closed = false;
  private closing: Promise<void> | undefined;

  /** Opens the disk tier synchronously (LMDB opens are; the index scan blocks until done). */
  constructor(options: TieredPageStoreOptions) {
    this.events = options.events;
    this.closeFlushMs = options.closeFlushMs ?? 10_000;
    const pageSize = options.pageSize ?? 1024 * 1024;
    this.policy = new S3Fifo<string>({ maxBytes: policyBytes(options.memoryBytes, options.disk.maxBytes, pageSize) });
    this.memory = new MemoryTier(options.memoryBytes, {
      onShed: (pageKey, data) => this.demote(pageKey, data),
      ...(options.maxMetadataEntries !== undefined ? { maxMetadataEntries: options.maxMetadataEntries } : {}),
    });
    this.disk = new DiskTier({
      path: options.disk.path,
      maxBytes: options.disk.maxBytes,
      events: options.events,
      onDropped: (pageKey) => this.droppedFromDisk(pageKey),
      ...(options.now ? { now: options.now } : {}),
      ...(options.touchIntervalMs !== undefined ? { touchIntervalMs: options.touchIntervalMs } : {}),
      ...(options.maxPendingDiskBytes !== undefined ? { maxPendingBytes: options.maxPendingDiskBytes } : {}),
    });
    this.metadata = this.disk.metadata;
    try {
      this.restore();
    } catch (err) {
      void this.disk.close();
      throw err;
    }
  }

  /** Same as the constructor; an async factory so opening can become asynchronous later. */
  static async open(options: TieredPageStoreOptions): Promise<TieredPageStore> {
    return new TieredPageStore(options);
  }

  get(pageKey: string): PageLookup | undefined {
    try {
      const inMemory = this.memory.getItem(pageKey);
      if (inMemory !== undefined) {
        // A page placed ahead of its read: this lookup is that read's, not a second use.
        if (inMemory.unread) inMemory.unread = false;
        else this.policy.access(pageKey);
        return inMemory.page as PageLookup;
      }
      const firstLookup = this.unreadOnDisk.size > 0 && this.unreadOnDisk.delete(pageKey);
      if (firstLookup ? this.policy.has(pageKey) : this.policy.access(pageKey)) {
        const fromDisk = this.fromDisk(pageKey);
        if (fromDisk !== undefined) return { data: fromDisk, tier: 'disk' };
      }
    } catch (err) {
      this.events.error('get', err);
    }
    return undefined;
  }

  peek(pageKey: string): PageLookup | undefined {
    try {
      const inMemory = this.memory.peekPage(pageKey);
      if (inMemory !== undefined) return inMemory;
      const fromDisk = this.disk.get(pageKey, false);
      if (fromDisk !== undefined) return { data: fromDisk, tier: 'disk' };
    } catch (err) {
      this.events.error('peek', err);
    }
    return undefined;
  }

  has(pageKey: string): 'memory' | 'disk' | undefined {
    try {
      if (this.memory.hasPage(pageKey)) return 'memory';
      if (this.disk.has(pageKey)) return 'disk';
    } catch (err) {
      this.events.error('has', err);
    }
    return undefined;
  }

  put(pageKey: string, data: Buffer, placement: Placement = 'read'): void {
    if (this.closed) return;
    try {
      if (this.policy.has(pageKey)) {
        if (this.heldSize(pageKey) === data.length) return; // a concurrent read stored it already
        this.forget(pageKey); // held with another length (cut at another page size, damaged): replace it
      }
      const evicted: string[] = [];
      // A preloaded page skips the probation queue: S3Fifo.restore puts it in main.
      if (!(placement === 'preload' ? this.policy.restore(pageKey, data.length, evicted) : this.policy.admit(pageKey, data.length, evicted))) return;
      this.evict(evicted);
      if (this.memory.placePage(pageKey, data, placement === 'ahead')) this.events.stored('memory', data.length);
      else {
        this.demote(pageKey, data); // no memory tier, or a page larger than it: straight to disk
        if (placement === 'ahead' && this.disk.has(pageKey)) this.markUnreadOnDisk(pageKey);
      }
      this.chargeBookkeeping();
    } catch (err) {
      this.events.error('put', err);
    }
  }

  async dropObject(objectId: string): Promise<number> {
    let dropped = 0;
    let committed: Promise<void> = Promise.resolve();
    try {
      for (const key of this.memory.dropObject(objectId)) {
        this.policy.remove(key);
        dropped++;
      }
    } catch (err) {
      this.events.error('dropObject.memory', err);
    }
    try {
      const fromDisk = this.disk.dropObject(objectId);
      for (const key of fromDisk.keys) {
        this.policy.remove(key);
        dropped++;
      }
      committed = fromDisk.committed;
    } catch (err) {
      this.events.error('dropObject.disk', err);
    }
    await committed;
    return dropped;
  }

  flush(): Promise<void> {
    return this.disk.flush();
  }

  stats(): PageStoreStats {
    const memory = this.memory.stats();
    const disk = this.disk.stats();
    return { memoryBytes: memory.bytes, memoryPages: memory.pages, diskBytes: disk.bytes, diskPages: disk.pages };
  }

  /** Writes the memory tier's pages to disk (what the disk quota holds), then closes the disk tier. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  // ---------------------------------------------------------------------------------------

  /** Seeds the policy from the pages on disk, in the order they arrived there (oldest first). */
  private restore(): void {
    const evicted: string[] = [];
    for (const [pageKey, size] of [...this.disk.pagesInOrder()]) {
      if (!this.policy.restore(pageKey, size, evicted)) this.disk.delete(pageKey);
    }
    this.evict(evicted);
    this.chargeBookkeeping();
  }

  /** A disk hit: moved to memory when memory can hold it, else read where it is. */
  private fromDisk(pageKey: string): Buffer | undefined {
    const size = this.disk.sizeOf(pageKey);
    if (size === undefined) {
      this.policy.remove(pageKey); // kept by the policy but held nowhere: forget it
      return undefined;
    }
    if (!this.memory.fits(size)) return this.disk.get(pageKey);
    const data = this.disk.take(pageKey); // a failed checksum drops it (onDropped)
    if (data === undefined) return undefined;
    if (this.memory.placePage(pageKey, data)) this.events.stored('memory', size);
    return data;
  }

  /**
   * A page leaves memory (shed to make room, or no room at all): written to disk if the policy
   * still keeps it and the disk takes it; otherwise the policy forgets it.
   */
  private demote(pageKey: string, data: Buffer): void {
    if (!this.policy.has(pageKey)) return;
    const size = data.length;
    if (this.disk.enabled && !this.closed) {
      // Memory holds fewer page bytes than its budget (metadata, bookkeeping): make room on
      // disk by evicting in the policy's own order, which may choose this very page.
      while (this.disk.bytes + size > this.disk.maxBytes && this.policy.has(pageKey)) {
        const evicted: string[] = [];
        this.policy.trimTo(this.policy.bytes - (this.disk.bytes + size - this.disk.maxBytes), evicted);
        if (evicted.length === 0) break;
        this.evict(evicted);
      }
      if (!this.policy.has(pageKey)) return; // the policy gave it up: never written
      if (this.disk.put(pageKey, data)) return;
    }
    // No disk tier, the disk is behind, or the page cannot be stored there: it leaves the cache.
    this.policy.remove(pageKey);
    this.events.evicted('memory', 1, size);
  }

  /** Deletes the policy's victims from the tier that holds each. */
  private evict(victims: string[]): void {
    let memoryPages = 0;
    let memoryBytes = 0;
    let diskPages = 0;
    let diskBytes = 0;
    for (const key of victims) {
      const inMemory = this.memory.deletePage(key);
      if (inMemory !== undefined) {
        memoryPages++;
        memoryBytes += inMemory.length;
        continue;
      }
      const size = this.disk.sizeOf(key);
      if (size !== undefined && this.disk.delete(key)) {
        diskPages++;
        diskBytes += size;
      }
    }
    if (memoryPages > 0) this.events.evicted('memory', memoryPages, memoryBytes);
    if (diskPages > 0) this.events.evicted('disk', diskPages, diskBytes);
  }

  private markUnreadOnDisk(pageKey: string): void {
    this.unreadOnDisk.add(pageKey);
    if (this.unreadOnDisk.size > 256) this.unreadOnDisk.delete(this.unreadOnDisk.values().next().value as string);
  }

  /** Removes a page from the policy and both tiers (not an eviction). */
  private forget(pageKey: string): void {
    this.policy.remove(pageKey);
    if (this.memory.deletePage(pageKey) === undefined) this.disk.delete(pageKey);
  }

  private heldSize(pageKey: string): number | undefined {
    return this.memory.peekPage(pageKey)?.data.length ?? this.disk.sizeOf(pageKey);
  }

  /** The disk tier dropped a page on its own (checksum, failed write, space recovery). */
  private droppedFromDisk(pageKey: string): void {
    if (!this.memory.hasPage(pageKey)) this.policy.remove(pageKey);
  }

  /** Charges the policy's and the disk tier's per-page structures to the memory budget. */
  private chargeBookkeeping(): void {
    this.memory.reserve(
      this.policy.size * TRACKED_PAGE_HEAP_BYTES + this.disk.stats().pages * DISK_ENTRY_HEAP_BYTES + this.policy.ghostSize * GHOST_ENTRY_HEAP_BYTES,
    );
  }

  private async doClose(): Promise<void> {
    this.closed = true; // no new pages from now on
    try {
      await this.writeMemoryToDisk(performance.now() + this.closeFlushMs);
    } catch (err) {
      this.events.error('close.demote', err);
    }
    this.memory.clear();
    await this.disk.close();
  }

  /**
   * At close: the pages in memory go to disk, least recently used first, within the disk
   * quota (the policy first gives up its least valuable pages beyond it) and the deadline.
   */
  private async writeMemoryToDisk(deadline: number): Promise<void> {
    if (!this.disk.enabled || this.memory.stats().pages === 0) return;
    const evicted: string[] = [];
    this.policy.trimTo(this.disk.maxBytes, evicted);
    this.evict(evicted);
    for (const pageKey of [...this.memory.pageKeysOldestFirst()]) {
      const data = this.memory.deletePage(pageKey);
      if (data === undefined) continue;
      if (this.disk.bytes + data.length > this.disk.maxBytes) break; // cannot happen after trimTo; never exceed the quota
      if (!this.disk.canPut(data.length)) await this.disk.flush(); // the disk is behind: let it commit
      if (performance.now() >= deadline || !this.disk.put(pageKey, data)) break;
    }
    await this.disk.flush();
  }
}
