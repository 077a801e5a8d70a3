/**
 * Disk tier of the page cache: one LMDB environment (lmdb-js) with three named databases.
 *
 *   pages  pageKey -> 4-byte big-endian CRC-32 of pageKey + data, then the data (binary)
 *   index  pageKey -> { size, lastAccess }                               (msgpack)
 *   meta   metaKey -> MetadataRecord                                     (msgpack)
 *
 * A page and its index entry are always written or deleted in the same LMDB transaction
 * (lmdb-js puts every asynchronous write issued in one event turn into one transaction, and
 * a failed operation aborts the whole transaction), so the byte accounting rebuilt at open
 * from `index` alone matches the pages that are there. `pages` values are never scanned at
 * open: for a cache of many GiB that would read the whole file.
 *
 * Quota: the sum of index sizes never exceeds `maxBytes` (a put that would pass it is
 * refused). What to keep is not decided here: the page store's policy (tiered-page-store.ts)
 * chooses the pages and tells the tier what to store and delete. An in-memory Map from pageKey
 * to its index entry holds the accounting; at open it is rebuilt from `index` in lastAccess
 * order, which is the order pages arrived (stamps increase strictly), so the policy's state is
 * restored from it. lastAccess is refreshed on reads that stay on disk lazily (at most once per
 * `touchIntervalMs` per page, batched).
 *
 * Reads are synchronous (LMDB reads are memory-mapped); writes are asynchronous and batched.
 * Until a put commits, this process serves it from `pending`.
 *
 * One process per cache directory: the accounting is per process.
 */
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import { keyFits, LMDB_MAX_KEY_BYTES } from './disk-keys';
import { LmdbMetadataStore } from './disk-metadata-store';
import { MemoryMetadataStore } from './memory-metadata-store';
import { decodePageRecord, encodePageRecord, PAGE_CHECKSUM_BYTES } from './page-checksum';
import type { MetadataRecord, MetadataStore, PageStoreEvents } from './types';

const MiB = 1024 * 1024;

/** Fixed headroom on top of the proportional one; see diskMapSize. */
export const DISK_MAP_FIXED_HEADROOM = 256 * MiB;

export interface DiskIndexEntry {
  size: number;
  /** Epoch ms of the last access that was persisted. */
  lastAccess: number;
}

/**
 * The LMDB map size for a quota of `maxBytes` page bytes: maxBytes * 1.5 + 256 MiB.
 *
 * The file holds more than the page bytes the quota counts:
 *  - every page is stored as LMDB overflow pages: 4 checksum bytes and a 16-byte page header
 *    round each up to a whole extra 4 KiB page (+6.25% for 64 KiB pages, +0.4% for 1 MiB);
 *  - LMDB is copy-on-write: pages freed by a transaction are reusable only once no reader
 *    and no unsynced meta page still refer to them (lmdb-js's overlappingSync keeps the last
 *    transactions pinned until their fsync completes), so a burst of evict+put churn needs
 *    free space beside the live data, and the freelist itself takes pages;
 *  - fragmentation: a large value needs a contiguous run of free pages;
 *  - the B-trees of `index` and `meta` (a few hundred bytes per page / per object).
 * The 50% covers the churn and fragmentation, which scale with the data; the 256 MiB covers
 * the index and metadata databases and keeps small quotas workable.
 *
 * Caveat: lmdb-js patches LMDB to grow the map by itself when a transaction needs more room
 * (mdb_page_alloc calls mdb_env_set_mapsize), so MDB_MAP_FULL does not occur in practice and
 * the map size is not a hard cap. Setting it from the quota reserves the address space up
 * front, so no remap happens in normal operation (lmdb-js keeps every old mapping alive for
 * lingering readers), and the tier treats the file outgrowing it as "map full" (see
 * checkFileGrowth). The hard bound on disk use is the quota.
 */
export function diskMapSize(maxBytes: number): number {
  const bytes = Math.ceil(maxBytes * 1.5) + DISK_MAP_FIXED_HEADROOM;
  return Math.ceil(bytes / MiB) * MiB;
}

/**
 * Options of the LMDB environment. Exported so tools (and the crash test) open the
 * environment exactly as the tier does.
 *
 * Sync mode: lmdb-js defaults, i.e. synced commits with overlappingSync (on Linux). The
 * lmdb-js README says that with the default syncing configuration "a machine can be turned
 * off at any point, and data can not be corrupted", while `noSync` "can result in data
 * loss/corruption if the computer crashes". A corrupt cache file would have to be deleted
 * whole, so noSync's throughput is not worth it; overlappingSync already moves the fsync out
 * of the write lock, and cache writes are off the request path anyway.
 */
export function lmdbOpenOptions(path: string, maxBytes: number): RootDatabaseOptionsWithPath {
  return {
    path,
    mapSize: diskMapSize(maxBytes),
    maxDbs: 4,
    // Pages are often compressed already (Parquet, ORC, images); the checksum is over raw bytes.
    compression: false,
    // The root database holds nothing but the names of the three databases.
    encoding: 'binary',
  };
}

export interface DiskEnvironment {
  env: RootDatabase;
  pages: Database<Buffer, string>;
  index: Database<DiskIndexEntry, string>;
  meta: Database<MetadataRecord, string>;
}

/** Opens (creating if needed) the environment and its three databases. */
export function openDiskEnvironment(path: string, maxBytes: number): DiskEnvironment {
  mkdirSync(path, { recursive: true });
  const env = open(lmdbOpenOptions(path, maxBytes));
  try {
    return {
      env,
      pages: env.openDB<Buffer, string>('pages', { encoding: 'binary', compression: false }),
      index: env.openDB<DiskIndexEntry, string>('index', { encoding: 'msgpack', compression: false }),
      meta: env.openDB<MetadataRecord, string>('meta', { encoding: 'msgpack', compression: false }),
    };
  } catch (err) {
    void env.close();
    throw err;
  }
}

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

export interface DiskTierStats {
  bytes: number;
  pages: number;
  /** Bytes of puts issued but not yet committed. */
  pendingBytes: number;
  /** Puts refused because pendingBytes was at maxPendingBytes. */
  skippedPuts: number;
}

/** Result of a full scan (tests, tooling): every index entry against every page. */
export interface DiskIntegrityReport {
  indexEntries: number;
  indexBytes: number;
  pages: number;
  /** Index entries whose page is missing. */
  missingPages: string[];
  /** Pages without an index entry. */
  orphanPages: string[];
  /** Pages whose checksum does not verify, or whose size differs from the index. */
  badPages: string[];
  /** What the tier's accounting says (in-memory). */
  accountedBytes: number;
  accountedPages: number;
}

/** Fraction of the quota freed at once when the environment runs out of space. */
const SPACE_RECOVERY_FRACTION = 0.1;
/** How often (ms) the file's high-water mark is compared with the map size. */
const GROWTH_CHECK_INTERVAL_MS = 1000;

/**
 * The disk tier stores, reads and deletes pages; it does not choose what to keep. The page
 * store's policy (one S3-FIFO over memory and disk) decides, and the tier only enforces its
 * quota by refusing a put that would exceed it. Its own eviction is limited to recovering
 * space (the environment is out of room although under quota, or opened with a smaller quota
 * than its contents): then it frees the pages it has held longest and reports each through
 * onDropped.
 */
export class DiskTier {
  readonly path: string;
  readonly maxBytes: number;
  readonly mapSize: number;
  readonly maxPendingBytes: number;
  /** Metadata records: in the environment's `meta` database, or in memory when disabled. */
  readonly metadata: MetadataStore;

  private readonly events: PageStoreEvents;
  private readonly now: () => number;
  private readonly touchIntervalMs: number;
  private readonly touchFlushDelayMs: number;
  private readonly onDropped: (pageKey: string) => void;
  private readonly lmdb: DiskEnvironment | undefined;
  private readonly lmdbMetadata: LmdbMetadataStore | undefined;

  /**
   * pageKey -> index entry of every page held (committed or pending), in the order the pages
   * arrived (at open: by persisted lastAccess, oldest first). Not reordered on reads: the
   * owner's policy keeps the order that matters.
   */
  private readonly entries = new Map<string, DiskIndexEntry>();
  private totalBytes = 0;
  /** Records of puts not yet committed (read-your-writes). */
  private readonly pending = new Map<string, Buffer>();
  private pendingBytes = 0;
  private skippedPuts = 0;
  /** Every write promise (with its handlers) not yet settled; flush() waits for them. */
  private readonly inflight = new Set<Promise<void>>();
  /** lastAccess values waiting to be persisted. */
  private readonly touches = new Map<string, number>();
  private touchTimer: NodeJS.Timeout | undefined;
  /** The last lastAccess handed out: stamps increase strictly, so the order at open is the order of arrival. */
  private lastStamp = 0;
  private opSeq = 0;
  private lastSpaceRecoverySeq = -1;
  private lastGrowthCheck = 0;
  private growthGuardPage = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: DiskTierOptions) {
    const { path, maxBytes, events } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`disk maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.path = path;
    this.maxBytes = maxBytes;
    this.mapSize = maxBytes === 0 ? 0 : diskMapSize(maxBytes);
    this.events = events;
    this.now = options.now ?? Date.now;
    this.touchIntervalMs = options.touchIntervalMs ?? 60_000;
    this.touchFlushDelayMs = options.touchFlushDelayMs ?? 1000;
    this.onDropped = options.onDropped ?? (() => undefined);
    this.maxPendingBytes = options.maxPendingBytes ?? Math.min(64 * MiB, Math.max(8 * MiB, Math.floor(maxBytes / 8)));
    if (maxBytes === 0) {
      this.metadata = new MemoryMetadataStore(options.memoryMetadataEntries);
      return;
    }
    this.lmdb = openDiskEnvironment(path, maxBytes);
    try {
      this.lmdbMetadata = new LmdbMetadataStore(this.lmdb.meta, events);
      this.metadata = this.lmdbMetadata;
      this.loadIndex();
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
    return this.totalBytes;
  }

  stats(): DiskTierStats {
    return { bytes: this.totalBytes, pages: this.entries.size, pendingBytes: this.pendingBytes, skippedPuts: this.skippedPuts };
  }

  has(pageKey: string): boolean {
    return this.entries.has(pageKey);
  }

  /** Size of a page held, without reading it. */
  sizeOf(pageKey: string): number | undefined {
    return this.entries.get(pageKey)?.size;
  }

  /** Whether a put of `size` bytes would be accepted now (enabled, open, within quota, disk keeping up). */
  canPut(size: number): boolean {
    if (!this.lmdb || this.closed) return false;
    if (this.totalBytes + size > this.maxBytes) return false;
    return !(this.pendingBytes > 0 && this.pendingBytes + size > this.maxPendingBytes);
  }

  /** Pages held, with their sizes, in the order they arrived (at open: by persisted lastAccess). */
  *pagesInOrder(): Generator<[string, number]> {
    for (const [key, entry] of this.entries) yield [key, entry.size];
  }

  /**
   * The page, verified, in a Buffer the caller may keep; undefined on a miss. A page whose
   * checksum fails is deleted (with its index entry), reported as a checksum failure and
   * through onDropped. `touch`: record the access (persisted lazily, for the order at open).
   */
  get(pageKey: string, touch = true): Buffer | undefined {
    const entry = this.entries.get(pageKey);
    if (!entry || !this.lmdb || this.closed) return undefined; // also covers pages whose delete is issued
    const data = this.read(pageKey, entry);
    if (data !== undefined && touch) this.markUsed(pageKey, entry);
    return data;
  }

  /**
   * The page, verified, and deleted from the tier (it moves to another tier: promotion). The
   * Buffer is the read's own (a view of the record read out of the map, or of the pending
   * record): keeping it costs no copy.
   */
  take(pageKey: string): Buffer | undefined {
    const entry = this.entries.get(pageKey);
    if (!entry || !this.lmdb || this.closed) return undefined;
    const pending = this.pending.get(pageKey);
    const data = pending ? pending.subarray(PAGE_CHECKSUM_BYTES) : this.read(pageKey, entry);
    if (data !== undefined) void this.removeKey(pageKey, entry);
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
    if (!this.lmdb || this.closed || this.entries.has(pageKey)) return false;
    const size = data.length;
    if (this.totalBytes + size > this.maxBytes) return false;
    if (this.pendingBytes > 0 && this.pendingBytes + size > this.maxPendingBytes) {
      this.skippedPuts++;
      return false;
    }
    if (!keyFits(pageKey)) {
      // Checked here rather than left to lmdb-js: its put throws only after queueing a batch.
      this.events.error('disk.put', new RangeError(`page key longer than LMDB's ${LMDB_MAX_KEY_BYTES}-byte limit: ${pageKey.slice(0, 80)}...`));
      return false;
    }
    const record = encodePageRecord(pageKey, data);
    const entry: DiskIndexEntry = { size, lastAccess: this.stamp() };
    this.entries.set(pageKey, entry);
    this.totalBytes += size;
    this.pending.set(pageKey, record);
    this.writePage(pageKey, record, entry, 0);
    return true;
  }

  /** Deletes a page (the owner's policy evicted it); returns whether it was held. */
  delete(pageKey: string): boolean {
    const entry = this.entries.get(pageKey);
    if (!entry) return false;
    void this.removeKey(pageKey, entry);
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
    for (const key of this.pending.keys()) if (key.startsWith(start)) keys.add(key);
    const dropped: string[] = [];
    const writes: Promise<void>[] = [];
    for (const key of keys) {
      const entry = this.entries.get(key);
      if (!entry) continue; // already being deleted
      dropped.push(key);
      writes.push(this.removeKey(key, entry));
    }
    return { keys: dropped, committed: Promise.all(writes).then(() => undefined) };
  }

  /** Resolves when every write issued so far (pages, index, metadata) has committed. */
  async flush(): Promise<void> {
    if (!this.lmdb) return;
    this.flushTouches();
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
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
    const report: DiskIntegrityReport = {
      indexEntries: 0,
      indexBytes: 0,
      pages: 0,
      missingPages: [],
      orphanPages: [],
      badPages: [],
      accountedBytes: this.totalBytes,
      accountedPages: this.entries.size,
    };
    const lmdb = this.lmdb;
    if (!lmdb) return report;
    lmdb.env.resetReadTxn();
    const sizes = new Map<string, number>();
    for (const { key, value } of lmdb.index.getRange()) {
      report.indexEntries++;
      const size = isIndexEntry(value) ? value.size : -1;
      report.indexBytes += Math.max(0, size);
      sizes.set(String(key), size);
    }
    for (const key of lmdb.pages.getKeys()) {
      const pageKey = String(key);
      report.pages++;
      const size = sizes.get(pageKey);
      if (size === undefined) {
        report.orphanPages.push(pageKey);
        continue;
      }
      sizes.delete(pageKey);
      const record = lmdb.pages.getBinaryFast(pageKey); // checked, not kept
      const data = record && decodePageRecord(pageKey, record);
      if (!data || data.length !== size) report.badPages.push(pageKey);
    }
    report.missingPages.push(...sizes.keys());
    return report;
  }

  // ---------------------------------------------------------------------------------------

  private loadIndex(): void {
    const lmdb = this.lmdb!;
    const entries: Array<[string, DiskIndexEntry]> = [];
    const invalid: string[] = [];
    for (const { key, value } of lmdb.index.getRange()) {
      if (typeof key === 'string' && isIndexEntry(value)) entries.push([key, { size: value.size, lastAccess: value.lastAccess }]);
      else invalid.push(String(key));
    }
    // Array.prototype.sort is stable: pages accessed in the same persisted instant keep key
    // order, i.e. an object's pages stay together.
    entries.sort((a, b) => a[1].lastAccess - b[1].lastAccess);
    for (const [key, entry] of entries) {
      this.entries.set(key, entry);
      this.totalBytes += entry.size;
      if (entry.lastAccess > this.lastStamp) this.lastStamp = entry.lastAccess;
    }
    for (const key of invalid) this.track(Promise.all([lmdb.pages.remove(key), lmdb.index.remove(key)]), 'disk.open');
    // The quota may have shrunk since the last run: the pages held longest go first.
    if (this.totalBytes > this.maxBytes) this.reclaimOldest(this.totalBytes - this.maxBytes);
  }

  /** The verified data of a held page (no state change but a failed page's removal). */
  private read(pageKey: string, entry: DiskIndexEntry): Buffer | undefined {
    const lmdb = this.lmdb!;
    const pending = this.pending.get(pageKey);
    if (pending) return Buffer.from(pending.subarray(PAGE_CHECKSUM_BYTES)); // a copy: the page stays here, pending
    // getBinary copies the value out of the map into a buffer of its own (for values above
    // 32 KiB directly, smaller ones via lmdb-js's shared read buffer), which the caller may
    // keep. getBinaryFast would leave the bytes in that shared buffer, valid only until the
    // next read, so keeping them would need a copy anyway; measured, the two cost the same.
    const record = lmdb.pages.getBinary(pageKey);
    if (record === undefined) {
      void this.removeKey(pageKey, entry);
      this.events.error('disk.get', new Error(`page ${pageKey} has an index entry but no data; entry dropped`));
      this.onDropped(pageKey);
      return undefined;
    }
    const data = decodePageRecord(pageKey, record);
    if (data === undefined || data.length !== entry.size) {
      void this.removeKey(pageKey, entry);
      this.events.checksumFailure();
      this.onDropped(pageKey);
      return undefined;
    }
    return data;
  }

  /** A lastAccess for a page arriving or read now: the clock, strictly after the previous stamp. */
  private stamp(): number {
    const now = this.now();
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 0.001;
    return this.lastStamp;
  }

  private markUsed(pageKey: string, entry: DiskIndexEntry): void {
    const now = this.now();
    if (now - entry.lastAccess >= this.touchIntervalMs) {
      this.touches.set(pageKey, this.stamp());
      this.touchTimer ??= setTimeout(() => this.flushTouches(), this.touchFlushDelayMs).unref();
    }
  }

  /** Persists pending lastAccess updates, all in one event turn (one transaction). */
  private flushTouches(): void {
    if (this.touchTimer) clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    const lmdb = this.lmdb;
    if (!lmdb || this.touches.size === 0) return;
    for (const [key, lastAccess] of this.touches) {
      const entry = this.entries.get(key);
      // Only live, committed pages: writes are applied in issue order, so an index entry
      // written for a key present in `entries` can never outlive its page.
      if (!entry || this.pending.has(key)) continue;
      entry.lastAccess = lastAccess;
      this.track(lmdb.index.put(key, { size: entry.size, lastAccess }), 'disk.touch');
    }
    this.touches.clear();
  }

  /**
   * Frees at least `bytes` (or everything), pages held longest first, reporting each through
   * onDropped and as evictions: the environment needs room the owner's policy did not ask for.
   */
  private reclaimOldest(bytes: number): number {
    let freed = 0;
    let pages = 0;
    while (freed < bytes) {
      const oldest = this.entries.entries().next();
      if (oldest.done) break;
      const [key, entry] = oldest.value;
      void this.removeKey(key, entry);
      freed += entry.size;
      pages++;
      this.onDropped(key);
    }
    if (pages > 0) this.events.evicted('disk', pages, freed);
    return pages;
  }

  /** Forgets a page and deletes it with its index entry (one transaction). */
  private removeKey(pageKey: string, entry: DiskIndexEntry): Promise<void> {
    if (this.entries.get(pageKey) === entry) {
      this.entries.delete(pageKey);
      this.totalBytes -= entry.size;
    }
    this.pending.delete(pageKey);
    this.touches.delete(pageKey);
    return this.issueRemove(pageKey, 0);
  }

  /**
   * Deletes a page and its index entry. A delete that fails with its transaction (a commit
   * error aborts every write of the batch, e.g. when a put beside it ran out of room) is
   * issued once more, unless the page has been stored again meanwhile.
   */
  private issueRemove(pageKey: string, attempt: number): Promise<void> {
    let removed: Promise<unknown>;
    try {
      removed = this.removeRecord(pageKey);
    } catch (err) {
      this.events.error('disk.delete', err);
      return Promise.resolve();
    }
    const settled = removed.then(
      () => undefined,
      (err: unknown) => {
        if (attempt === 0 && !this.closed && !this.entries.has(pageKey)) return this.issueRemove(pageKey, 1);
        this.events.error('disk.delete', err);
      },
    );
    return this.track(settled, 'disk.delete');
  }

  /** Issues the deletion of a page and its index entry, in one transaction. (A method of its own so tests can make it fail.) */
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

  private writePage(pageKey: string, record: Buffer, entry: DiskIndexEntry, attempt: number): void {
    const seq = ++this.opSeq;
    let written: Promise<unknown>;
    try {
      written = this.writeRecord(pageKey, record, entry);
    } catch (err) {
      this.abandonPut(pageKey, record, entry, err);
      return;
    }
    this.pendingBytes += record.length;
    this.track(
      written.then(
        () => {
          this.pendingBytes -= record.length;
          this.onCommitted(pageKey, record, entry.size);
        },
        (err: unknown) => {
          this.pendingBytes -= record.length;
          return this.onWriteFailed(pageKey, record, entry, attempt, seq, err);
        },
      ),
      'disk.put',
    );
  }

  private onCommitted(pageKey: string, record: Buffer, size: number): void {
    if (this.pending.get(pageKey) === record) this.pending.delete(pageKey);
    this.events.stored('disk', size);
    this.checkFileGrowth();
  }

  private async onWriteFailed(pageKey: string, record: Buffer, entry: DiskIndexEntry, attempt: number, seq: number, err: unknown): Promise<void> {
    const cause = await commitErrorOf(err);
    if (this.closed || this.pending.get(pageKey) !== record) {
      // Deleted or taken meanwhile (its delete is issued): nothing left to store.
      if (this.pending.get(pageKey) === record) this.abandonPut(pageKey, record, entry, cause);
      return;
    }
    if (attempt === 0 && isSpaceError(cause)) {
      // Out of room although under quota: free a larger batch (once per burst of failures
      // from the same transaction) and retry this put once.
      this.entries.delete(pageKey);
      this.entries.set(pageKey, entry); // keep the retried page out of its own recovery batch
      if (seq > this.lastSpaceRecoverySeq) {
        this.lastSpaceRecoverySeq = this.opSeq;
        this.reclaimOldest(Math.ceil(this.maxBytes * SPACE_RECOVERY_FRACTION));
      }
      if (this.entries.get(pageKey) === entry) {
        this.writePage(pageKey, record, entry, 1);
        return;
      }
    }
    this.abandonPut(pageKey, record, entry, cause);
  }

  private abandonPut(pageKey: string, record: Buffer, entry: DiskIndexEntry, err: unknown): void {
    if (this.pending.get(pageKey) === record) this.pending.delete(pageKey);
    if (this.entries.get(pageKey) === entry) {
      this.entries.delete(pageKey);
      this.totalBytes -= entry.size;
      this.onDropped(pageKey);
    }
    this.events.error('disk.put', err);
  }

  /**
   * lmdb-js grows the map instead of failing with MDB_MAP_FULL. If the file's high-water mark
   * passes the planned map size while the quota holds, free pages are not being reused fast
   * enough (long readers, fragmentation): treat it as "map full" and free a larger batch so
   * the next writes reuse freed pages instead of growing the file further.
   */
  private checkFileGrowth(): void {
    const now = this.now();
    if (now - this.lastGrowthCheck < GROWTH_CHECK_INTERVAL_MS || !this.lmdb || this.closed) return;
    this.lastGrowthCheck = now;
    const info = this.lmdb.env.getStats() as { lastPageNumber?: number; pageSize?: number };
    const lastPage = info.lastPageNumber ?? 0;
    const fileBytes = (lastPage + 1) * (info.pageSize ?? 4096);
    if (fileBytes <= this.mapSize || lastPage <= this.growthGuardPage) return;
    this.growthGuardPage = lastPage;
    const pages = this.reclaimOldest(Math.ceil(this.maxBytes * SPACE_RECOVERY_FRACTION));
    this.events.error(
      'disk.mapFull',
      new Error(`LMDB file at ${this.path} reached ${fileBytes} bytes, past its map size ${this.mapSize}; evicted ${pages} pages`),
    );
  }

  /** Tracks a write for flush() and reports its failure; never rejects. */
  private track(promise: Promise<unknown>, operation: string): Promise<void> {
    const settled = promise.then(
      () => undefined,
      (err: unknown) => this.events.error(operation, err),
    );
    this.inflight.add(settled);
    void settled.finally(() => this.inflight.delete(settled));
    return settled;
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
      if (this.touchTimer) clearTimeout(this.touchTimer);
      this.touchTimer = undefined;
      this.pending.clear();
      await this.lmdb.env.close();
    }
  }
}

function isIndexEntry(value: unknown): value is DiskIndexEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { size, lastAccess } = value as Partial<DiskIndexEntry>;
  return Number.isSafeInteger(size) && (size as number) >= 0 && typeof lastAccess === 'number' && Number.isFinite(lastAccess);
}

/** lmdb-js rejects each write of a failed commit with a generic error whose `commitError` holds the cause. */
async function commitErrorOf(err: unknown): Promise<unknown> {
  const commitError = (err as { commitError?: unknown } | null)?.commitError;
  if (!commitError || typeof (commitError as Promise<unknown>).then !== 'function') return err;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      commitError,
      new Promise((resolve) => {
        timer = setTimeout(resolve, 1000);
      }),
    ]);
    return err;
  } catch (cause) {
    return cause;
  } finally {
    clearTimeout(timer);
  }
}

/** MDB_MAP_FULL (-30792) or the filesystem being full. */
export function isSpaceError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === 'ENOSPC' || e.code === 'MDB_MAP_FULL' || e.code === -30792 || e.code === 28) return true;
  return typeof e.message === 'string' && /MDB_MAP_FULL|ENOSPC|No space left|mapsize limit/i.test(e.message);
}
