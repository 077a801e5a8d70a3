/**
 * MetadataStore persisted in the `meta` database of the disk tier's LMDB environment.
 *
 * Writes go through lmdb-js's asynchronous, batched puts; until a write commits, readers of
 * this process see it through a small overlay (`pending`), so putMeta/deleteMeta are
 * read-your-writes although the LMDB snapshot lags by one transaction.
 */
import { compareKeys, type Database } from 'lmdb';
import { keyFits, LMDB_MAX_KEY_BYTES } from './disk-keys';
import type { MetadataRecord, MetadataStore, PageStoreEvents } from './types';

/** One write in flight: the record written, or null for a delete. */
interface PendingMeta {
  record: MetadataRecord | null;
}

export class LmdbMetadataStore implements MetadataStore {
  private readonly pending = new Map<string, PendingMeta>();
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly db: Database<MetadataRecord, string>,
    private readonly events: PageStoreEvents,
  ) {}

  getMeta(metaKey: string): MetadataRecord | undefined {
    const pending = this.pending.get(metaKey);
    if (pending) return pending.record === null ? undefined : structuredClone(pending.record);
    if (!keyFits(metaKey)) return undefined; // could never have been stored
    try {
      // msgpack decodes a fresh object per get: the caller may keep or change it.
      return this.db.get(metaKey) ?? undefined;
    } catch (err) {
      this.events.error('meta.get', err);
      return undefined;
    }
  }

  putMeta(metaKey: string, record: MetadataRecord): void {
    // lmdb-js encodes the value synchronously inside put(); the overlay keeps its own copy
    // so a caller changing `record` afterwards changes neither.
    this.write(metaKey, { record: structuredClone(record) }, () => this.db.put(metaKey, record), 'meta.put');
  }

  deleteMeta(metaKey: string): void {
    this.write(metaKey, { record: null }, () => this.db.remove(metaKey), 'meta.delete');
  }

  async deleteMetaPrefix(prefix: string): Promise<number> {
    const keys = new Set<string>();
    let count = 0;
    try {
      // Keys are strings in lmdb-js's ordered-binary encoding, which sorts like their UTF-8
      // bytes: every key with the prefix lies in one contiguous run starting at the prefix.
      for (const key of this.db.getKeys(prefix === '' ? {} : { start: prefix })) {
        if (typeof key !== 'string' || !key.startsWith(prefix)) break;
        keys.add(key);
        if (this.pending.get(key)?.record !== null) count++;
      }
    } catch (err) {
      this.events.error('meta.deletePrefix', err);
    }
    for (const [key, pending] of this.pending) {
      if (!key.startsWith(prefix) || keys.has(key)) continue;
      keys.add(key);
      if (pending.record !== null) count++;
    }
    const writes: Promise<void>[] = [];
    for (const key of keys) writes.push(this.write(key, { record: null }, () => this.db.remove(key), 'meta.deletePrefix'));
    await Promise.all(writes);
    return count;
  }

  /**
   * Records whose key starts with `prefix`, lazily, in key order: the committed range merged
   * with the writes not yet committed.
   */
  *scanMeta(prefix: string): Iterable<[string, MetadataRecord]> {
    const overlay = [...this.pending].filter(([key]) => key.startsWith(prefix)).sort(([a], [b]) => compareKeys(a, b));
    const overlaid = new Set(overlay.map(([key]) => key));
    let next = 0;
    const range = this.db.getRange(prefix === '' ? {} : { start: prefix });
    for (const { key, value } of range) {
      if (typeof key !== 'string' || !key.startsWith(prefix)) break;
      for (; next < overlay.length && compareKeys(overlay[next][0], key) <= 0; next++) {
        const [pendingKey, op] = overlay[next];
        if (op.record !== null) yield [pendingKey, structuredClone(op.record)];
      }
      if (overlaid.has(key)) continue; // the overlay (yielded above) supersedes it
      yield [key, value];
    }
    for (; next < overlay.length; next++) {
      const [pendingKey, op] = overlay[next];
      if (op.record !== null) yield [pendingKey, structuredClone(op.record)];
    }
  }

  /** Resolves when every write issued so far has committed (or failed and been reported). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private write(metaKey: string, op: PendingMeta, issue: () => Promise<unknown>, operation: string): Promise<void> {
    if (!keyFits(metaKey)) {
      this.events.error(operation, new RangeError(`metadata key longer than LMDB's ${LMDB_MAX_KEY_BYTES}-byte limit: ${metaKey.slice(0, 80)}...`));
      return Promise.resolve();
    }
    this.pending.set(metaKey, op);
    const settle = (): void => {
      if (this.pending.get(metaKey) === op) this.pending.delete(metaKey);
    };
    let promise: Promise<void>;
    try {
      promise = issue().then(
        () => settle(),
        (err: unknown) => {
          settle();
          this.events.error(operation, err);
        },
      );
    } catch (err) {
      settle();
      this.events.error(operation, err);
      return Promise.resolve();
    }
    this.inflight.add(promise);
    void promise.finally(() => this.inflight.delete(promise));
    return promise;
  }
}
