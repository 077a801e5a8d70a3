/**
 * What the cache's bookkeeping costs on the heap, so that `cache.memory.maxBytes` bounds what
 * the cache really holds: page data, metadata entries and the per-page structures of the
 * policy and the tiers. The constants are measured, not guessed: `bench/cache-entry-overhead.ts`
 * builds each structure with N entries in a fresh `node --expose-gc` process and divides the
 * heap growth by N (node 20 on x64, whose builds do not compress pointers; see docs/cache-policy.md for the
 * figures), and test/unit/memory-accounting.test.ts re-measures them and checks the charges
 * stay within 25% of what it finds.
 *
 * The charges are heap bytes; the page data itself lives outside the heap (Buffer backing
 * stores) and is charged at its length.
 */
import type { MetadataEntry } from './metadata-cache';

/**
 * One page held by the memory tier, beyond its data: the tier's item and Map entry, the
 * PageLookup a hit returns, and the Buffer and ArrayBuffer objects.
 */
export const PAGE_ITEM_HEAP_BYTES = 344;

/**
 * Every page the policy keeps, in either tier: its S3-FIFO slot and Map entry, and the page
 * key string (41 characters: 32 of object id, '/', 8 of index).
 */
export const TRACKED_PAGE_HEAP_BYTES = 120;

/** Every page on disk: the disk tier's Map entry and its index record (size, last access). */
export const DISK_ENTRY_HEAP_BYTES = 80;

/** Every ghost (a recently evicted page's hash and size). */
export const GHOST_ENTRY_HEAP_BYTES = 40;

/** A metadata entry's fixed part: the tier's item and Map entry, and the entry (a "not found" entry is this and its key). */
const METADATA_ENTRY_BASE_HEAP_BYTES = 184;

/** An ObjectInfo's fixed part: the object, its Date and its (empty) user metadata. */
const OBJECT_INFO_BASE_HEAP_BYTES = 240;

/** Each user-metadata or checksum pair, beyond its value string (names are interned, shared by every entry). */
const PAIR_HEAP_BYTES = 16;

/** A V8 sequential string: 16 bytes of header (map, hash, length), 1 or 2 bytes per character, 8-byte aligned. */
export function stringHeapBytes(s: string): number {
  const perChar = /[^\u0000-\u00ff]/.test(s) ? 2 : 1;
  return (16 + s.length * perChar + 7) & ~7;
}

/** Estimated heap bytes of one metadata entry held in memory under `metaKey`. */
export function metadataEntryHeapBytes(metaKey: string, entry: MetadataEntry): number {
  let bytes = METADATA_ENTRY_BASE_HEAP_BYTES + stringHeapBytes(metaKey);
  const info = entry.info;
  if (info === null) return bytes;
  bytes += OBJECT_INFO_BASE_HEAP_BYTES + stringHeapBytes(info.key) + stringHeapBytes(info.etag);
  for (const value of [info.contentType, info.contentEncoding, info.contentDisposition, info.contentLanguage, info.cacheControl, info.expires]) {
    if (value !== undefined) bytes += stringHeapBytes(value);
  }
  for (const pairs of [info.userMetadata, info.checksums] as (Record<string, string | undefined> | undefined)[]) {
    if (pairs === undefined) continue;
    for (const name in pairs) bytes += PAIR_HEAP_BYTES + stringHeapBytes(pairs[name] ?? '');
  }
  if (info.partSizes !== undefined) bytes += 16 + 8 * info.partSizes.length;
  if (info.partChecksums !== undefined) for (const sum of info.partChecksums) bytes += 8 + stringHeapBytes(sum);
  return bytes;
}
