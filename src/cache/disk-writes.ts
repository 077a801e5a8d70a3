/**
 * The disk tier's writes: a page goes in with its index entry and a deletion removes both, each
 * pair in one LMDB transaction (lmdb-js puts every asynchronous write issued in one event turn
 * into one transaction, and a failed operation aborts the whole transaction), so the accounting
 * rebuilt at open from `index` alone matches the pages that are there. Every write is tracked
 * until it settles (flush waits for them), and failures are recovered from here:
 *  - a put that failed for lack of room although under quota frees a batch of the pages held
 *    longest (once per burst of failures from one transaction) and is retried once; a put that
 *    fails otherwise, or again, drops its page (onDropped);
 *  - a delete that failed with its transaction is issued once more;
 *  - after each commit, a file grown past the planned map size frees a batch as well.
 */
import type { RootDatabase } from 'lmdb';
import type { AccessStamps } from './disk-access-stamps';
import type { DiskHeldPages } from './disk-held-pages';
import type { DiskIndexEntry } from './disk-lmdb';
import { commitErrorOf, FileGrowthWatch, isSpaceError, SPACE_RECOVERY_FRACTION } from './disk-space';
import type { PageStoreEvents } from './types';

interface DiskWritesOptions {
  /** Environment directory (for messages). */
  path: string;
  maxBytes: number;
  /** The environment; undefined when the tier is disabled (nothing is written then). */
  env: RootDatabase | undefined;
  held: DiskHeldPages;
  stamps: AccessStamps;
  events: PageStoreEvents;
  now: () => number;
  /** The planned map size (read at each check). */
  mapSize: () => number;
  closed: () => boolean;
  /** See DiskTierOptions.onDropped. */
  onDropped: (pageKey: string) => void;
  /** Issues a page and its index entry, in one transaction. */
  writeRecord: (pageKey: string, record: Buffer, entry: DiskIndexEntry) => Promise<unknown>;
  /** Issues the deletion of a page and its index entry, in one transaction. */
  removeRecord: (pageKey: string) => Promise<unknown>;
}

export class DiskWrites {
  private readonly inflight = new Set<Promise<void>>();
  private readonly growth = new FileGrowthWatch();
  private pending = 0;
  private opSeq = 0;
  private lastSpaceRecoverySeq = -1;

  constructor(private readonly options: DiskWritesOptions) {}

  /** Bytes of puts issued but not yet committed. */
  get pendingBytes(): number {
    return this.pending;
  }

  /** Resolves when every write tracked so far has settled. */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  /** Tracks a write for settled() and reports its failure; never rejects. */
  track(promise: Promise<unknown>, operation: string): Promise<void> {
    const settled = promise.then(
      () => undefined,
      (err: unknown) => this.options.events.error(operation, err),
    );
    this.inflight.add(settled);
    void settled.finally(() => this.inflight.delete(settled));
    return settled;
  }

  /** Writes a page the accounting already holds, with its pending `record`. */
  put(pageKey: string, record: Buffer, entry: DiskIndexEntry): void {
    this.writePage(pageKey, record, entry, 0);
  }

  /** Forgets a page and deletes it with its index entry (one transaction). */
  remove(pageKey: string, entry: DiskIndexEntry): Promise<void> {
    const { held, stamps } = this.options;
    held.release(pageKey, entry);
    held.clearPending(pageKey);
    stamps.forget(pageKey);
    return this.issueRemove(pageKey, 0);
  }

  /**
   * Frees at least `bytes` (or everything), pages held longest first, reporting each through
   * onDropped and as evictions: the environment needs room the owner's policy did not ask for.
   */
  reclaimOldest(bytes: number): number {
    let freed = 0;
    let pages = 0;
    while (freed < bytes) {
      const oldest = this.options.held.oldest();
      if (!oldest) break;
      const [key, entry] = oldest;
      void this.remove(key, entry);
      freed += entry.size;
      pages++;
      this.options.onDropped(key);
    }
    if (pages > 0) this.options.events.evicted('disk', pages, freed);
    return pages;
  }

  /**
   * Deletes a page and its index entry. A delete that fails with its transaction (a commit
   * error aborts every write of the batch, e.g. when a put beside it ran out of room) is
   * issued once more, unless the page has been stored again meanwhile.
   */
  private issueRemove(pageKey: string, attempt: number): Promise<void> {
    let removed: Promise<unknown>;
    try {
      removed = this.options.removeRecord(pageKey);
    } catch (err) {
      this.options.events.error('disk.delete', err);
      return Promise.resolve();
    }
    const settled = removed.then(
      () => undefined,
      (err: unknown) => {
        if (attempt === 0 && !this.options.closed() && !this.options.held.has(pageKey)) return this.issueRemove(pageKey, 1);
        this.options.events.error('disk.delete', err);
      },
    );
    return this.track(settled, 'disk.delete');
  }

  private writePage(pageKey: string, record: Buffer, entry: DiskIndexEntry, attempt: number): void {
    const seq = ++this.opSeq;
    let written: Promise<unknown>;
    try {
      written = this.options.writeRecord(pageKey, record, entry);
    } catch (err) {
      this.abandonPut(pageKey, record, entry, err);
      return;
    }
    this.pending += record.length;
    this.track(
      written.then(
        () => {
          this.pending -= record.length;
          this.onCommitted(pageKey, record, entry.size);
        },
        (err: unknown) => {
          this.pending -= record.length;
          return this.onWriteFailed(pageKey, record, entry, attempt, seq, err);
        },
      ),
      'disk.put',
    );
  }

  private onCommitted(pageKey: string, record: Buffer, size: number): void {
    this.options.held.clearPending(pageKey, record);
    this.options.events.stored('disk', size);
    this.checkFileGrowth();
  }

  private async onWriteFailed(pageKey: string, record: Buffer, entry: DiskIndexEntry, attempt: number, seq: number, err: unknown): Promise<void> {
    const { held } = this.options;
    const cause = await commitErrorOf(err);
    if (this.options.closed() || held.pendingRecord(pageKey) !== record) {
      // Deleted or taken meanwhile (its delete is issued): nothing left to store.
      if (held.pendingRecord(pageKey) === record) this.abandonPut(pageKey, record, entry, cause);
      return;
    }
    if (attempt === 0 && isSpaceError(cause)) {
      // Out of room although under quota: free a larger batch (once per burst of failures
      // from the same transaction) and retry this put once.
      held.renew(pageKey, entry); // keep the retried page out of its own recovery batch
      if (seq > this.lastSpaceRecoverySeq) {
        this.lastSpaceRecoverySeq = this.opSeq;
        this.reclaimOldest(Math.ceil(this.options.maxBytes * SPACE_RECOVERY_FRACTION));
      }
      if (held.entry(pageKey) === entry) {
        this.writePage(pageKey, record, entry, 1);
        return;
      }
    }
    this.abandonPut(pageKey, record, entry, cause);
  }

  private abandonPut(pageKey: string, record: Buffer, entry: DiskIndexEntry, err: unknown): void {
    this.options.held.clearPending(pageKey, record);
    if (this.options.held.release(pageKey, entry)) this.options.onDropped(pageKey);
    this.options.events.error('disk.put', err);
  }

  /** A file grown past the planned map size while the quota holds: free a batch (see FileGrowthWatch). */
  private checkFileGrowth(): void {
    const { env, maxBytes } = this.options;
    if (!env || this.options.closed()) return;
    const mapSize = this.options.mapSize();
    const fileBytes = this.growth.outgrown(env, this.options.now(), mapSize);
    if (fileBytes === undefined) return;
    const pages = this.reclaimOldest(Math.ceil(maxBytes * SPACE_RECOVERY_FRACTION));
    this.options.events.error(
      'disk.mapFull',
      new Error(`LMDB file at ${this.options.path} reached ${fileBytes} bytes, past its map size ${mapSize}; evicted ${pages} pages`),
    );
  }
}
