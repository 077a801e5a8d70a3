/**
 * MetadataStore kept in process memory, used when the disk tier is disabled (maxBytes 0).
 * Bounded by entry count (least recently used records go first) so a cache without a disk
 * cannot grow without limit; records are lost on restart, as the pages are.
 */
import { LRUCache } from 'lru-cache';
import type { MetadataRecord, MetadataStore } from './types';

const DEFAULT_MEMORY_METADATA_ENTRIES = 100_000;

export class MemoryMetadataStore implements MetadataStore {
  private readonly records: LRUCache<string, MetadataRecord>;

  constructor(maxEntries: number = DEFAULT_MEMORY_METADATA_ENTRIES) {
    this.records = new LRUCache<string, MetadataRecord>({ max: Math.max(1, maxEntries) });
  }

  getMeta(metaKey: string): MetadataRecord | undefined {
    const record = this.records.get(metaKey);
    // Hand out copies, as the LMDB store does (each get decodes a fresh object).
    return record === undefined ? undefined : structuredClone(record);
  }

  putMeta(metaKey: string, record: MetadataRecord): void {
    this.records.set(metaKey, structuredClone(record));
  }

  deleteMeta(metaKey: string): void {
    this.records.delete(metaKey);
  }

  async deleteMetaPrefix(prefix: string): Promise<number> {
    const doomed: string[] = [];
    for (const key of this.records.keys()) if (key.startsWith(prefix)) doomed.push(key);
    for (const key of doomed) this.records.delete(key);
    return doomed.length;
  }

  *scanMeta(prefix: string): Iterable<[string, MetadataRecord]> {
    const keys = [...this.records.keys()].filter((key) => key.startsWith(prefix)).sort(utf8Order);
    for (const key of keys) {
      const record = this.records.peek(key);
      if (record !== undefined) yield [key, structuredClone(record)];
    }
  }
}

/** UTF-8 byte order, the order LMDB keeps string keys in (differs from `<` for astral characters). */
function utf8Order(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
