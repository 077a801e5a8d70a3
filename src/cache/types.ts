/**
 * Contracts of the paged cache. Pages are fixed-size slices of one version of one object:
 *   objectId = hash(mountId, key, fingerprint, pageSize)  (fingerprint: ETag + size + mtime)
 *   pageKey  = `${objectId}/${index as 8 hex digits}` (sorted, so an object's pages are contiguous)
 * A changed object gets a new objectId, so its old pages can never be served; they age out.
 * So does a node whose page size changed (restart with another cache.pageSize), and a page
 * handed off by a node configured with another page size is never found.
 */

/** Where a page was found. "ufs" means it was read from the store on a miss. */
export type Tier = 'memory' | 'disk' | 'ufs';

/**
 * What the page store reports, for metrics. Implementations must not throw. Hits and misses are
 * not events: the page reader counts them per lookup (it sees what `get` returned).
 */
export interface PageStoreEvents {
  stored(tier: 'memory' | 'disk', bytes: number): void;
  evicted(tier: 'memory' | 'disk', pages: number, bytes: number): void;
  checksumFailure(): void;
  /** A cache operation failed and was treated as a miss / skipped. */
  error(operation: string, err: unknown): void;
}

/**
 * Why a page is offered to the store:
 *   'read'     a read missed it and fetched it (its use is this admission);
 *   'ahead'    fetched ahead of the read it belongs to (with the object's metadata), whose own
 *              lookup follows: that first lookup is not a second use;
 *   'preload'  a preload job: the page is known to be wanted, kept as if read twice.
 */
export type Placement = 'read' | 'ahead' | 'preload';

export interface PageLookup {
  data: Buffer;
  tier: 'memory' | 'disk';
}

/**
 * The cached pages of a node, in a memory tier and a disk tier that add up: a page lives in
 * one of them. One policy decides which pages are cached; the tiers decide where (see
 * tiered-page-store.ts). Best-effort: it never throws from get/put; any failure is reported
 * through PageStoreEvents and behaves as a miss.
 */
export interface PageStore {
  /**
   * A hit, recorded: memory, else disk (a disk hit moves the page to memory). Verifies disk
   * checksums. On a memory hit it allocates nothing; the PageLookup is shared, read-only.
   */
  get(pageKey: string): PageLookup | undefined;
  /** The page without recording a use or moving it (serving another node's hand-off). */
  peek(pageKey: string): PageLookup | undefined;
  /** Where a page is held, without reading it or changing recency. */
  has(pageKey: string): 'memory' | 'disk' | undefined;
  /**
   * Offers a page just read from the store: the policy admits it (evicting as needed) or
   * not; an admitted page goes to memory (disk writes happen when memory sheds it). `fill`
   * says what the read was (default 'read').
   */
  put(pageKey: string, data: Buffer, placement?: Placement): void;
  /** Drops every page of one object version from both tiers; returns pages dropped. */
  dropObject(objectId: string): Promise<number>;
  /** Resolves when pending disk writes are committed (tests, shutdown). */
  flush(): Promise<void>;
  stats(): PageStoreStats;
  close(): Promise<void>;
}

export interface PageStoreStats {
  memoryBytes: number;
  memoryPages: number;
  diskBytes: number;
  diskPages: number;
}

/** A cached stat result: the object's info, or null for "does not exist" (negative entry). */
export interface MetadataRecord {
  /** ObjectInfo serialised with lastModified as epoch ms. */
  info: SerializedObjectInfo | null;
  /** When the store was last asked (epoch ms). */
  fetchedAt: number;
  /** In a cluster: the ownership record the answer was fetched under (see MetadataEntry.seq). */
  seq?: number;
}

export interface SerializedObjectInfo {
  key: string;
  size: number;
  etag: string;
  lastModifiedMs: number;
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
  userMetadata: Record<string, string>;
  checksums?: Record<string, string>;
  partSizes?: number[];
  partChecksums?: string[];
}

/** Persistence of metadata records next to the pages (same LMDB environment). */
export interface MetadataStore {
  getMeta(metaKey: string): MetadataRecord | undefined;
  putMeta(metaKey: string, record: MetadataRecord): void;
  deleteMeta(metaKey: string): void;
  /** Deletes every record whose key starts with `prefix`; returns how many. */
  deleteMetaPrefix(prefix: string): Promise<number>;
  /** Records whose key starts with `prefix`, lazily, in key order (purges use it). */
  scanMeta(prefix: string): Iterable<[string, MetadataRecord]>;
}

export const pageKeyOf = (objectId: string, index: number): string => `${objectId}/${index.toString(16).padStart(8, '0')}`;
