/**
 * Disk tier of the page cache: one LMDB environment (lmdb-js) with three named databases, laid
 * out in disk-lmdb.ts. A page and its index entry are always written or deleted in the same
 * LMDB transaction (disk-writes.ts), so the byte accounting rebuilt at open from `index` alone
 * matches the pages that are there.
 *
 * Quota: the sum of index sizes never exceeds `maxBytes` (a put that would pass it is
 * refused). What to keep is not decided here: the page store's policy (tiered-page-store.ts)
 * chooses the pages and tells the tier what to store and delete. The accounting
 * (disk-held-pages.ts) is rebuilt at open from `index` in lastAccess order, which is the order
 * pages arrived (stamps increase strictly, disk-access-stamps.ts), so the policy's state is
 * restored from it.
 *
 * Reads are synchronous (LMDB reads are memory-mapped); writes are asynchronous and batched.
 * Until a put commits, this process serves it from its pending record.
 *
 * Metadata records live in the environment's `meta` database (disk-metadata-store.ts), or in
 * memory when the tier is disabled.
 *
 * One process per cache directory: the accounting is per process.
 */
import { AccessStamps } from './disk-access-stamps';
import { DiskHeldPages } from './disk-held-pages';
import { scanDiskIntegrity, type DiskIntegrityReport } from './disk-integrity';
import { keyFits, LMDB_MAX_KEY_BYTES } from './disk-keys';
import { diskMapSize, openDiskEnvironment, readIndexEntries, type DiskEnvironment, type DiskIndexEntry } from './disk-lmdb';
import { LmdbMetadataStore } from './disk-metadata-store';
import { DiskWrites } from './disk-writes';
import { MemoryMetadataStore } from './memory-metadata-store';
import { decodePageRecord, encodePageRecord, PAGE_CHECKSUM_BYTES } from './page-checksum';
import type { MetadataStore, PageStoreEvents } from './types';

const MiB = 1024 * 1024;

export interface DiskTierOptions {
  /** Environment directory (created if missing). */
  path: string;
  /** Quota of page bytes; 0 disables the tier (no environment is opened). */
  maxBytes: number;
  events: PageStoreEvents;
  /** Clock (tests). */
  now?: () => number;
  /** Persist a page's lastAccess on a read only if the stored one is older than this. Default 60 s. */
  touchIntervalMs?: number;
  /** Delay before the batched lastAccess writes go out. Default 1 s. */
  touchFlushDelayMs?: number;
  /**
   * Bytes of puts waiting to commit beyond which further puts are refused (the caller keeps
   * or drops the page). Default: maxBytes / 8, clamped to [8 MiB, 64 MiB]. See put().
   */
  maxPendingBytes?: number;
  /** Entry bound of the in-memory metadata store used when the tier is disabled. */
  memoryMetadataEntries?: number;
  /**
   * Called for every page the tier drops on its own (not asked to by delete, take or
   * dropObject): a checksum failure, a page missing behind its index entry, a write that
   * failed, space recovery. The owner's policy forgets it. Must not throw.
   */
  onDropped?: (pageKey: string) => void;
}

interface DiskTierStats {
  bytes: number;
  pages: number;
  /** Bytes of puts issued but not yet committed. */
  pendingBytes: number;
  /** Puts refused because pendingBytes was at maxPendingBytes. */
  skippedPuts: number;
}

/**
 * The disk tier stores, reads and deletes pages; it does not choose what to keep. The page
 * store's policy (one S3-FIFO over memory and disk) decides, and the tier only enforces its
 * quota by refusing a put that would exceed it. Its own eviction is limited to recovering
 * space (the environment is out of room although under quota, or opened with a smaller quota
 * than its contents): then it frees the pages it has held longest and reports each through
 * onDropped.
 */
export class DiskTier {
  readonly maxBytes: number;
  readonly mapSize: number;
  readonly maxPendingBytes: number;
  /** Metadata records: in the environment's `meta` database, or in memory when disabled. */
  readonly metadata: MetadataStore;

  private readonly events: PageStoreEvents;
  private readonly onDropped: (pageKey: string) => void;
  private readonly lmdb: DiskEnvironment | undefined;
  private readonly lmdbMetadata: LmdbMetadataStore | undefined;
  private readonly held = new DiskHeldPages();
  private readonly stamps: AccessStamps;
  private readonly writes: DiskWrites;
  private skippedPuts = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: DiskTierOptions) {
    const { path, maxBytes, events } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`disk maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.maxBytes = maxBytes;
    this.mapSize = maxBytes === 0 ? 0 : diskMapSize(maxBytes);
    this.events = events;
    const now = options.now ?? Date.now;
    this.onDropped = options.onDropped ?? (() => undefined);
    this.maxPendingBytes = options.maxPendingBytes ?? Math.min(64 * MiB, Math.max(8 * MiB, Math.floor(maxBytes / 8)));
    this.stamps = new AccessStamps({
      now,
      intervalMs: options.touchIntervalMs ?? 60_000,
      flushDelayMs: options.touchFlushDelayMs ?? 1000,
      persist: (touches) => this.persistTouches(touches),
    });
    this.lmdb = maxBytes === 0 ? undefined : openDiskEnvironment(path, maxBytes);
    this.writes = new DiskWrites({
      path,
      maxBytes,
      env: this.lmdb?.env,
      held: this.held,
      stamps: this.stamps,
      events,
      now,
      mapSize: () => this.mapSize,
      closed: () => this.closed,
      onDropped: this.onDropped,
      writeRecord: (pageKey, record, entry) => this.writeRecord(pageKey, record, entry),
      removeRecord: (pageKey) => this.removeRecord(pageKey),
    });
    if (!this.lmdb) {
      this.metadata = new MemoryMetadataStore(options.memoryMetadataEntries);
      return;
    }
    try {
      this.lmdbMetadata = new LmdbMetadataStore(this.lmdb.meta, events);
      this.metadata = this.lmdbMetadata;
      this.loadIndex(this.lmdb);
    } catch (err) {
      void this.lmdb.env.close();
      throw err;
    }
  }

  get enabled(): boolean {
    return this.lmdb !== undefined;
  }

  /** Page bytes held (committed and pending). */
  get bytes(): number {
    return this.held.bytes;
  }

  stats(): DiskTierStats {
    return { bytes: this.held.bytes, pages: this.held.count, pendingBytes: this.writes.pendingBytes, skippedPuts: this.skippedPuts };
  }

  has(pageKey: string): boolean {
    return this.held.has(pageKey);
  }

  /** Size of a page held, without reading it. */
  sizeOf(pageKey: string): number | undefined {
    return this.held.entry(pageKey)?.size;
  }

  /** Whether a put of `size` bytes would be accepted now (enabled, open, within quota, disk keeping up). */
  canPut(size: number): boolean {
    if (!this.lmdb || this.closed) return false;
    if (this.held.bytes + size > this.maxBytes) return false;
    const pendingBytes = this.writes.pendingBytes;
    return !(pendingBytes > 0 && pendingBytes + size > this.maxPendingBytes);
  }

  /** Pages held, with their sizes, in the order they arrived (at open: by persisted lastAccess). */
  *pagesInOrder(): Generator<[string, number]> {
    for (const [key, entry] of this.held.inOrder()) yield [key, entry.size];
  }

  /**
   * The page, verified, in a Buffer the caller may keep; undefined on a miss. A page whose
   * checksum fails is deleted (with its index entry), reported as a checksum failure and
   * through onDropped. `touch`: record the access (persisted lazily, for the order at open).
   */
  get(pageKey: string, touch = true): Buffer | undefined {
    const entry = this.held.entry(pageKey);
    if (!entry || !this.lmdb || this.closed) return undefined; // also covers pages whose delete is issued
    const data = this.read(this.lmdb, pageKey, entry);
    if (data !== undefined && touch) this.stamps.used(pageKey, entry);
    return data;
  }

  /**
   * The page, verified, and deleted from the tier (it moves to another tier: promotion). The
   * Buffer is the read's own (a view of the record read out of the map, or of the pending
   * record): keeping it costs no copy.
   */
  take(pageKey: string): Buffer | undefined {
    const entry = this.held.entry(pageKey);
    if (!entry || !this.lmdb || this.closed) return undefined;
    const pending = this.held.pendingRecord(pageKey);
    const data = pending ? pending.subarray(PAGE_CHECKSUM_BYTES) : this.read(this.lmdb, pageKey, entry);
    if (data !== undefined) void this.writes.remove(pageKey, entry);
    return data;
  }

  /**
   * Stores a page asynchronously (batched with the other writes of this event turn). Returns
   * false, storing nothing, when the tier is disabled or closed, the page is already held,
   * it would exceed the quota (the owner makes room first), its key is too long for LMDB, or
   * the disk is behind. `data` is copied: the caller may reuse it.
   *
   * When the disk falls behind, puts queue up in lmdb-js; each waiting put holds its copy in
   * memory, and everything queued while a commit runs goes into the next transaction, whose
   * deletions can only free pages after it commits, so the file grows by the size of that
   * transaction. Beyond maxPendingBytes waiting, a put is therefore refused (counted in
   * stats().skippedPuts): the cache is best-effort.
   *
   * A put accepted here may still fail to commit; the page is then dropped (onDropped).
   */
  put(pageKey: string, data: Uint8Array): boolean {
    if (!this.lmdb || this.closed || this.held.has(pageKey)) return false;
    const size = data.length;
    if (this.held.bytes + size > this.maxBytes) return false;
    const pendingBytes = this.writes.pendingBytes;
    if (pendingBytes > 0 && pendingBytes + size > this.maxPendingBytes) {
      this.skippedPuts++;
      return false;
    }
    if (!keyFits(pageKey)) {
      // Checked here rather than left to lmdb-js: its put throws only after queueing a batch.
      this.events.error('disk.put', new RangeError(`page key longer than LMDB's ${LMDB_MAX_KEY_BYTES}-byte limit: ${pageKey.slice(0, 80)}...`));
      return false;
    }
    const record = encodePageRecord(pageKey, data);
    const entry: DiskIndexEntry = { size, lastAccess: this.stamps.next() };
    this.held.hold(pageKey, entry);
    this.held.setPending(pageKey, record);
    this.writes.put(pageKey, record, entry);
    return true;
  }

  /** Deletes a page (the owner's policy evicted it); returns whether it was held. */
  delete(pageKey: string): boolean {
    const entry = this.held.entry(pageKey);
    if (!entry) return false;
    void this.writes.remove(pageKey, entry);
    return true;
  }

  /**
   * Deletes every page of one object version: forgets them at once and returns their keys
   * with a promise that resolves once the deletes have committed.
   */
  dropObject(objectId: string): { keys: string[]; committed: Promise<void> } {
    const lmdb = this.lmdb;
    if (!lmdb || this.closed) return { keys: [], committed: Promise.resolve() };
    const start = `${objectId}/`;
    const keys = new Set<string>();
    // '0' sorts right after '/', so [objectId/, objectId0) holds exactly this object's pages.
    for (const key of lmdb.index.getKeys({ start, end: `${objectId}0` })) if (typeof key === 'string') keys.add(key);
    for (const key of this.held.pendingKeys()) if (key.startsWith(start)) keys.add(key);
    const dropped: string[] = [];
    const writes: Promise<void>[] = [];
    for (const key of keys) {
      const entry = this.held.entry(key);
      if (!entry) continue; // already being deleted
      dropped.push(key);
      writes.push(this.writes.remove(key, entry));
    }
    return { keys: dropped, committed: Promise.all(writes).then(() => undefined) };
  }

  /** Resolves when every write issued so far (pages, index, metadata) has committed. */
  async flush(): Promise<void> {
    if (!this.lmdb) return;
    this.stamps.flush();
    await this.writes.settled();
    await this.lmdbMetadata?.flush();
    await this.lmdb.env.committed;
  }

  /** Flushes and closes the environment. Further gets miss and puts are refused. */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  /**
   * Full scan comparing `index` with `pages`, verifying every checksum. Reads the whole file:
   * for tests and offline checks, not for the serving path.
   */
  verifyIntegrity(): DiskIntegrityReport {
    return scanDiskIntegrity(this.lmdb, { bytes: this.held.bytes, pages: this.held.count });
  }

  /**
   * Issues the deletion of a page and its index entry, in one transaction. (A method of its
   * own so tests can make it fail.)
   */
  protected removeRecord(pageKey: string): Promise<unknown> {
    const lmdb = this.lmdb!;
    return Promise.all([lmdb.pages.remove(pageKey), lmdb.index.remove(pageKey)]);
  }

  /**
   * Issues the page and its index entry. Both are asynchronous lmdb-js writes issued in the
   * same event turn, hence in the same transaction. (A method of its own so tests can make
   * it fail.)
   */
  protected writeRecord(pageKey: string, record: Buffer, entry: DiskIndexEntry): Promise<unknown> {
    const lmdb = this.lmdb!;
    const written = lmdb.pages.put(pageKey, record);
    void lmdb.index.put(pageKey, { size: entry.size, lastAccess: entry.lastAccess }).catch(() => undefined); // same txn as `written`
    return written;
  }

  // ---------------------------------------------------------------------------------------

  private loadIndex(lmdb: DiskEnvironment): void {
    const { entries, invalid } = readIndexEntries(lmdb.index);
    for (const [key, entry] of entries) {
      this.held.hold(key, entry);
      this.stamps.restored(entry.lastAccess);
    }
    for (const key of invalid) this.writes.track(Promise.all([lmdb.pages.remove(key), lmdb.index.remove(key)]), 'disk.open');
    // The quota may have shrunk since the last run: the pages held longest go first.
    if (this.held.bytes > this.maxBytes) this.writes.reclaimOldest(this.held.bytes - this.maxBytes);
  }

  /** The verified data of a held page (no state change but a failed page's removal). */
  private read(lmdb: DiskEnvironment, pageKey: string, entry: DiskIndexEntry): Buffer | undefined {
    const pending = this.held.pendingRecord(pageKey);
    if (pending) return Buffer.from(pending.subarray(PAGE_CHECKSUM_BYTES)); // a copy: the page stays here, pending
    // getBinary copies the value out of the map into a buffer of its own (for values above
    // 32 KiB directly, smaller ones via lmdb-js's shared read buffer), which the caller may
    // keep. getBinaryFast would leave the bytes in that shared buffer, valid only until the
    // next read, so keeping them would need a copy anyway; measured, the two cost the same.
    const record = lmdb.pages.getBinary(pageKey);
    if (record === undefined) {
      void this.writes.remove(pageKey, entry);
      this.events.error('disk.get', new Error(`page ${pageKey} has an index entry but no data; entry dropped`));
      this.onDropped(pageKey);
      return undefined;
    }
    const data = decodePageRecord(pageKey, record);
    if (data === undefined || data.length !== entry.size) {
      void this.writes.remove(pageKey, entry);
      this.events.checksumFailure();
      this.onDropped(pageKey);
      return undefined;
    }
    return data;
  }

  /**
   * Persists refreshed lastAccess stamps (one event turn: one transaction). Only live, committed
   * pages: writes are applied in issue order, so an index entry written for a key still held can
   * never outlive its page.
   */
  private persistTouches(touches: ReadonlyMap<string, number>): void {
    const lmdb = this.lmdb;
    if (!lmdb) return;
    for (const [key, lastAccess] of touches) {
      const entry = this.held.entry(key);
      if (!entry || this.held.pendingRecord(key)) continue;
      entry.lastAccess = lastAccess;
      this.writes.track(lmdb.index.put(key, { size: entry.size, lastAccess }), 'disk.touch');
    }
  }

  private async doClose(): Promise<void> {
    this.closed = true; // from now on gets miss and puts are refused
    if (!this.lmdb) return;
    try {
      await this.flush();
      // lmdb-js starts a batch from a task queued in the event turn of its first write; let
      // any such task run before the environment goes away.
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.lmdb.env.committed;
    } finally {
      this.stamps.stop();
      this.held.clearAllPending();
      await this.lmdb.env.close();
    }
  }
}
