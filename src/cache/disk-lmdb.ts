/**
 * The disk tier's LMDB environment (lmdb-js): its size, how it is opened, and its three named
 * databases.
 *
 *   pages  pageKey -> 4-byte big-endian CRC-32 of pageKey + data, then the data (binary)
 *   index  pageKey -> { size, lastAccess }                               (msgpack)
 *   meta   metaKey -> MetadataRecord                                     (msgpack)
 */
import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import type { MetadataRecord } from './types';

const MiB = 1024 * 1024;

/** Fixed headroom on top of the proportional one; see diskMapSize. */
const DISK_MAP_FIXED_HEADROOM = 256 * MiB;

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
 * FileGrowthWatch in disk-space.ts). The hard bound on disk use is the quota.
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

/**
 * Every entry of `index`, oldest persisted lastAccess first, and the keys whose value is not an
 * index entry. Array.prototype.sort is stable: pages accessed in the same persisted instant keep
 * key order, i.e. an object's pages stay together. `pages` values are not read: for a cache of
 * many GiB that would read the whole file.
 */
export function readIndexEntries(index: Database<DiskIndexEntry, string>): { entries: Array<[string, DiskIndexEntry]>; invalid: string[] } {
  const entries: Array<[string, DiskIndexEntry]> = [];
  const invalid: string[] = [];
  for (const { key, value } of index.getRange()) {
    if (typeof key === 'string' && isIndexEntry(value)) entries.push([key, { size: value.size, lastAccess: value.lastAccess }]);
    else invalid.push(String(key));
  }
  entries.sort((a, b) => a[1].lastAccess - b[1].lastAccess);
  return { entries, invalid };
}

export function isIndexEntry(value: unknown): value is DiskIndexEntry {
  if (typeof value !== 'object' || value === null) return false;
  const { size, lastAccess } = value as Partial<DiskIndexEntry>;
  return Number.isSafeInteger(size) && (size as number) >= 0 && typeof lastAccess === 'number' && Number.isFinite(lastAccess);
}
