/**
 * The page store: a memory LRU (MemoryTier) in front of an LMDB disk tier (DiskTier).
 * get: memory, then disk (a disk hit is promoted to memory); put: both; dropObject: both.
 * Best-effort: get/put never throw; a failure is reported through PageStoreEvents.error and
 * behaves as a miss (get) or as nothing stored (put).
 */
import { DiskTier } from './disk-tier';
import { MemoryTier } from './memory-tier';
import type { MetadataStore, PageLookup, PageStore, PageStoreEvents, PageStoreStats } from './types';

export interface TieredPageStoreOptions {
  /** Memory tier budget in bytes; 0 disables it. */
  memoryBytes: number;
  /** LMDB environment directory and page-byte quota; maxBytes 0 disables the disk tier. */
  disk: { path: string; maxBytes: number };
  events: PageStoreEvents;
  /** Clock (tests). */
  now?: () => number;
  /** See DiskTierOptions.touchIntervalMs (default 60 s). */
  touchIntervalMs?: number;
}

export class TieredPageStore implements PageStore {
  readonly memory: MemoryTier;
  readonly disk: DiskTier;
  /** Metadata records, persisted in the disk tier's environment (in memory if it is disabled). */
  readonly metadata: MetadataStore;
  private readonly events: PageStoreEvents;

  /** Opens the disk tier synchronously (LMDB opens are; the index scan blocks until done). */
  constructor(options: TieredPageStoreOptions) {
    this.events = options.events;
    this.memory = new MemoryTier(options.memoryBytes, options.events);
    this.disk = new DiskTier({
      path: options.disk.path,
      maxBytes: options.disk.maxBytes,
      events: options.events,
      ...(options.now ? { now: options.now } : {}),
      ...(options.touchIntervalMs !== undefined ? { touchIntervalMs: options.touchIntervalMs } : {}),
    });
    this.metadata = this.disk.metadata;
  }

  /** Same as the constructor; an async factory so opening can become asynchronous later. */
  static async open(options: TieredPageStoreOptions): Promise<TieredPageStore> {
    return new TieredPageStore(options);
  }

  get(pageKey: string): PageLookup | undefined {
    try {
      const fromMemory = this.memory.get(pageKey);
      if (fromMemory) {
        this.events.hit('memory', fromMemory.length);
        return { data: fromMemory, tier: 'memory' };
      }
      const fromDisk = this.disk.get(pageKey);
      if (fromDisk) {
        this.events.hit('disk', fromDisk.length);
        this.promote(pageKey, fromDisk);
        return { data: fromDisk, tier: 'disk' };
      }
    } catch (err) {
      this.events.error('get', err);
    }
    this.events.miss();
    return undefined;
  }

  has(pageKey: string): 'memory' | 'disk' | undefined {
    try {
      if (this.memory.has(pageKey)) return 'memory';
      if (this.disk.has(pageKey)) return 'disk';
    } catch (err) {
      this.events.error('has', err);
    }
    return undefined;
  }

  put(pageKey: string, data: Buffer): void {
    try {
      this.memory.put(pageKey, data);
    } catch (err) {
      this.events.error('put.memory', err);
    }
    try {
      this.disk.put(pageKey, data);
    } catch (err) {
      this.events.error('put.disk', err);
    }
  }

  async dropObject(objectId: string): Promise<number> {
    const dropped = new Set<string>();
    try {
      for (const key of this.memory.dropObject(objectId)) dropped.add(key);
    } catch (err) {
      this.events.error('dropObject.memory', err);
    }
    try {
      for (const key of await this.disk.dropObject(objectId)) dropped.add(key);
    } catch (err) {
      this.events.error('dropObject.disk', err);
    }
    return dropped.size;
  }

  flush(): Promise<void> {
    return this.disk.flush();
  }

  stats(): PageStoreStats {
    const memory = this.memory.stats();
    const disk = this.disk.stats();
    return { memoryBytes: memory.bytes, memoryPages: memory.pages, diskBytes: disk.bytes, diskPages: disk.pages };
  }

  async close(): Promise<void> {
    this.memory.clear();
    await this.disk.close();
  }

  private promote(pageKey: string, data: Buffer): void {
    try {
      this.memory.put(pageKey, data);
    } catch (err) {
      this.events.error('promote', err);
    }
  }
}
