/**
 * The disk tier's accounting, in memory: the index entry of every page held (committed or
 * pending) in the order the pages arrived (at open: by persisted lastAccess, oldest first), the
 * sum of their sizes that the quota bounds, and the records of puts not yet committed, which
 * this process serves until they commit (read-your-writes). Not reordered on reads: the owner's
 * policy keeps the order that matters.
 */
import type { DiskIndexEntry } from './disk-lmdb';

export class DiskHeldPages {
  private readonly entries = new Map<string, DiskIndexEntry>();
  private totalBytes = 0;
  private readonly pending = new Map<string, Buffer>();

  /** Page bytes held (committed and pending). */
  get bytes(): number {
    return this.totalBytes;
  }

  get count(): number {
    return this.entries.size;
  }

  has(pageKey: string): boolean {
    return this.entries.has(pageKey);
  }

  entry(pageKey: string): DiskIndexEntry | undefined {
    return this.entries.get(pageKey);
  }

  /** Pages held with their entries, oldest arrival first. */
  inOrder(): IterableIterator<[string, DiskIndexEntry]> {
    return this.entries.entries();
  }

  /** The page that arrived first, if any. */
  oldest(): [string, DiskIndexEntry] | undefined {
    const first = this.entries.entries().next();
    return first.done ? undefined : first.value;
  }

  /** Counts a page in, as the newest. */
  hold(pageKey: string, entry: DiskIndexEntry): void {
    this.entries.set(pageKey, entry);
    this.totalBytes += entry.size;
  }

  /** Moves a page held to the newest end of the order. */
  renew(pageKey: string, entry: DiskIndexEntry): void {
    this.entries.delete(pageKey);
    this.entries.set(pageKey, entry);
  }

  /** Counts a page out if `entry` is still the one held for it; returns whether it was. */
  release(pageKey: string, entry: DiskIndexEntry): boolean {
    if (this.entries.get(pageKey) !== entry) return false;
    this.entries.delete(pageKey);
    this.totalBytes -= entry.size;
    return true;
  }

  /** The record of a put not yet committed. */
  pendingRecord(pageKey: string): Buffer | undefined {
    return this.pending.get(pageKey);
  }

  pendingKeys(): IterableIterator<string> {
    return this.pending.keys();
  }

  setPending(pageKey: string, record: Buffer): void {
    this.pending.set(pageKey, record);
  }

  /** Forgets a pending record: any, or only `record` when given. */
  clearPending(pageKey: string, record?: Buffer): void {
    if (record === undefined || this.pending.get(pageKey) === record) this.pending.delete(pageKey);
  }

  clearAllPending(): void {
    this.pending.clear();
  }
}
