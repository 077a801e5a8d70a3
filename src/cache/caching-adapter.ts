/**
 * A UfsAdapter in front of another: stat through the metadata cache (TTL, negative
 * entries, serve-stale while the store is down), read through the paged cache, and
 * invalidation on every write, copy, delete and multipart completion before they are
 * acknowledged. Everything else passes through.
 *
 * The cache is best-effort: a cache failure is a miss, never a failed read.
 */
import { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import type {
  ByteRange,
  CompletedPart,
  CopyRequest,
  ListEntry,
  ListOptions,
  MultipartUpload,
  ObjectInfo,
  ObjectMetadata,
  PartInfo,
  ReadOptions,
  UfsAdapter,
  UploadPartRequest,
  WriteRequest,
  WriteResult,
} from '../../ufs-adapters/types';
import { isUfsError, ufsError } from '../../ufs-adapters/errors';
import { unquoteEtag } from '../../ufs-adapters/object-metadata';
import type { Metrics } from '../admin/metrics';
import type { MetadataCache } from './metadata-cache';
import { deserializeInfo, metaKeyOf, mountTagOf, objectIdOf, serializeInfo } from './object-version';
import { loadPage, openRangeStream, type PageSource } from './page-reader';
import { SingleFlight } from './single-flight';
import { untilAborted } from '../util/until-aborted';
import { pageKeyOf, type MetadataRecord, type PageStore } from './types';

export interface CacheSettings {
  /** The bucket this mount serves (the ring key is bucket + key). */
  bucket?: string;
  pageSize: number;
  readAheadPages: number;
  /** A page read from the store that stalls this long fails. */
  storeIdleTimeoutMs?: number;
  metadataTtlMs: number;
  negativeTtlMs: number;
  serveStale: boolean;
  maxStalenessMs: number;
}

export interface WarmOptions {
  /** Only fetch and cache the metadata. */
  metadataOnly?: boolean;
  /**
   * true (default): pages already cached are counted as skipped and not read. false:
   * revalidate the metadata and read every page from the store again.
   */
  skipCached?: boolean;
  signal?: AbortSignal;
}

export interface WarmResult {
  size: number;
  bytesLoaded: number;
  bytesSkipped: number;
}

/** Which pages of the cached version of an object this node holds. */
export interface Residency {
  size: number;
  etag: string;
  pages: number;
  memory: number;
  disk: number;
}

/**
 * Asks another node for a page it holds (warm hand-off after a ring change). Resolves
 * undefined when no other node has it; never rejects.
 */
export type PeerPageSource = (request: { bucket: string; key: string; pageKey: string; length: number }) => Promise<Buffer | undefined>;

export interface SharedCache {
  pages: PageStore;
  /** Set by the cluster when it runs; consulted on a page miss before the store. */
  peerPages?: PeerPageSource;
  metadata: MetadataCache;
  pageFlights: SingleFlight<Buffer>;
  metrics: Metrics;
}


/** Errors that mean "the store cannot be reached", as opposed to an answer from it. */
const isStoreDown = (err: unknown): boolean => isUfsError(err, 'Unavailable') || isUfsError(err, 'Throttled') || !isUfsError(err);

export class CachingAdapter implements UfsAdapter {
  readonly kind: string;
  readonly capabilities: UfsAdapter['capabilities'];
  private readonly mountTag: string;
  private readonly statFlights: SingleFlight<ObjectInfo | null>;
  /**
   * Invalidation count per recently invalidated key: a stat that started before a write
   * finished must not record what it saw (it may be the old version).
   */
  private readonly invalidations = new LRUCache<string, number>({ max: 100_000, ttl: 10 * 60_000 });
  readonly cleanupAbandonedUploads?: (olderThanMs: number) => Promise<number>;

  constructor(
    private readonly inner: UfsAdapter,
    private readonly mountId: string,
    private readonly shared: SharedCache,
    private readonly settings: CacheSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.kind = inner.kind;
    this.capabilities = inner.capabilities;
    this.mountTag = mountTagOf(mountId);
    this.statFlights = new SingleFlight(() => shared.metrics.singleFlightJoins.inc());
    const cleanup = inner.cleanupAbandonedUploads?.bind(inner);
    if (cleanup) this.cleanupAbandonedUploads = cleanup;
  }

  /**
   * The adapter this one wraps (the instrumented store adapter): for reads that must see the
   * store itself, such as a copy whose source another node owns and caches.
   */
  get uncached(): UfsAdapter {
    return this.inner;
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectInfo> {
    const metaKey = metaKeyOf(this.mountTag, key);
    const record = this.shared.metadata.get(metaKey);
    const age = record ? this.now() - record.fetchedAt : Infinity;
    const trusted = record !== undefined && record.fetchedAt >= this.shared.metadata.validAfter;
    if (record && trusted && age < (record.info ? this.settings.metadataTtlMs : this.settings.negativeTtlMs)) {
      this.shared.metrics.metadataLookups.labels(record.info ? 'fresh' : 'negative').inc();
      if (!record.info) throw ufsError('NotFound', 'object not found (cached)');
      return deserializeInfo(record.info);
    }
    try {
      // The stat is shared by every caller of this key, so it runs without any one caller's
      // signal (one client leaving must not fail the others); each caller stops waiting on its own.
      signal?.throwIfAborted();
      const info = await untilAborted(this.statFlights.run(key, () => this.fetchStat(key, metaKey)), signal);
      this.shared.metrics.metadataLookups.labels('fetched').inc();
      if (!info) throw ufsError('NotFound', 'object not found');
      return info;
    } catch (err) {
      if (signal?.aborted) throw err;
      if (record?.info && this.settings.serveStale && age < this.settings.maxStalenessMs && isStoreDown(err)) {
        this.shared.metrics.metadataLookups.labels('stale').inc();
        return deserializeInfo(record.info);
      }
      throw err;
    }
  }

  /** Asks the store; records the answer (including "not found"). */
  private async fetchStat(key: string, metaKey: string): Promise<ObjectInfo | null> {
    this.shared.metrics.ufsStats.labels(this.kind).inc();
    const fetchedAt = this.now();
    const generation = this.invalidations.get(key) ?? 0;
    const record = (info: ObjectInfo | null): void => {
      if ((this.invalidations.get(key) ?? 0) === generation) this.remember(metaKey, { info: info && serializeInfo(info), fetchedAt });
    };
    try {
      const info = await this.inner.stat(key);
      record(info);
      return info;
    } catch (err) {
      if (isUfsError(err, 'NotFound')) {
        record(null);
        return null;
      }
      throw err;
    }
  }

  /** Stores a record; drops the pages of the version it replaces. */
  private remember(metaKey: string, record: MetadataRecord): void {
    const previous = this.shared.metadata.get(metaKey);
    this.shared.metadata.set(metaKey, record);
    if (previous?.info && (!record.info || previous.info.etag !== record.info.etag || previous.info.size !== record.info.size || previous.info.lastModifiedMs !== record.info.lastModifiedMs)) {
      this.dropPagesOf(previous);
    }
  }

  private dropPagesOf(record: MetadataRecord): void {
    if (!record.info) return;
    const info = deserializeInfo(record.info);
    this.shared.pages.dropObject(this.objectId(info.key, info)).catch(() => this.shared.metrics.cacheErrors.labels('drop-object').inc());
  }

  async read(key: string, range: ByteRange | undefined, options: ReadOptions = {}): Promise<Readable> {
    const info = await this.stat(key, options.signal);
    if (options.ifMatch !== undefined && unquoteEtag(options.ifMatch) !== unquoteEtag(info.etag)) {
      throw ufsError('PreconditionFailed', 'the object changed since it was looked up');
    }
    if (info.size === 0 || key.endsWith('/')) return Readable.from([]);
    const source = this.pageSource(key, info, options.noStore !== true);
    // The store has another version than our metadata: forget it, so the next stat asks.
    const forgetIfChanged = (err: unknown): void => {
      if (isUfsError(err, 'PreconditionFailed') || isUfsError(err, 'NotFound')) this.invalidate(key);
    };
    try {
      const stream = await openRangeStream(source, range ?? { start: 0, end: info.size - 1 }, this.settings.readAheadPages);
      // Mid-stream (after headers), the response can only be aborted: never a mix of versions.
      stream.once('error', forgetIfChanged);
      return stream;
    } catch (err) {
      forgetIfChanged(err);
      throw err;
    }
  }

  /** Pages of one version of `key` cut at this node's page size. */
  private objectId(key: string, info: ObjectInfo): string {
    return objectIdOf(this.mountId, key, info, this.settings.pageSize);
  }

  private pageSource(key: string, info: ObjectInfo, store = true, askPeers = true): PageSource {
    const peerPages = askPeers ? this.shared.peerPages : undefined;
    const bucket = this.settings.bucket;
    return {
      store,
      idleTimeoutMs: this.settings.storeIdleTimeoutMs ?? 30_000,
      peerPage: peerPages && bucket !== undefined ? (pageKey, length) => peerPages({ bucket, key, pageKey, length }) : undefined,
      inner: this.inner,
      key,
      info,
      objectId: this.objectId(key, info),
      pageSize: this.settings.pageSize,
      pages: this.shared.pages,
      flights: this.shared.pageFlights,
      metrics: this.shared.metrics,
    };
  }

  /**
   * Loads an object into this node's cache (a preload job's unit of work): its metadata,
   * then every page not already held, a few pages at a time.
   */
  async warm(key: string, options: WarmOptions = {}): Promise<WarmResult> {
    if (options.skipCached === false) {
      const before = await this.stat(key, options.signal).catch(() => undefined);
      if (before) await this.shared.pages.dropObject(this.objectId(key, before));
      this.invalidate(key);
    }
    const info = await this.stat(key, options.signal);
    const result: WarmResult = { size: info.size, bytesLoaded: 0, bytesSkipped: 0 };
    if (options.metadataOnly || info.size === 0 || key.endsWith('/')) return result;
    // A forced reload reads the store itself, not a peer's copy.
    const source = this.pageSource(key, info, true, options.skipCached !== false);
    const pageCount = Math.ceil(info.size / source.pageSize);
    const pageLength = (index: number): number => Math.min(info.size, (index + 1) * source.pageSize) - index * source.pageSize;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pageCount) {
        options.signal?.throwIfAborted();
        const index = next++;
        if (this.shared.pages.has(pageKeyOf(source.objectId, index))) {
          result.bytesSkipped += pageLength(index);
          continue;
        }
        // The shared page read goes on for other readers; this caller stops waiting on abort.
        const { tier } = await untilAborted(loadPage(source, index), options.signal);
        if (tier === 'ufs' || tier === 'peer') result.bytesLoaded += pageLength(index);
        else result.bytesSkipped += pageLength(index);
      }
    };
    const workers = Math.min(pageCount, this.settings.readAheadPages + 1);
    await Promise.all(Array.from({ length: workers }, worker));
    return result;
  }

  /** The pages of `key` this node holds, for the version its metadata cache knows (undefined: none known). */
  residency(key: string): Residency | undefined {
    const record = this.shared.metadata.get(metaKeyOf(this.mountTag, key));
    if (!record?.info) return undefined;
    const info = deserializeInfo(record.info);
    const objectId = this.objectId(key, info);
    const pages = Math.ceil(info.size / this.settings.pageSize);
    const residency: Residency = { size: info.size, etag: info.etag, pages, memory: 0, disk: 0 };
    for (let i = 0; i < pages; i++) {
      const tier = this.shared.pages.has(pageKeyOf(objectId, i));
      if (tier) residency[tier]++;
    }
    return residency;
  }

  list(options: ListOptions): AsyncIterable<ListEntry> {
    return this.inner.list(options);
  }

  async write(request: WriteRequest): Promise<WriteResult> {
    try {
      return await this.inner.write(request);
    } finally {
      this.invalidate(request.key);
    }
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.inner.delete(key, signal);
    } finally {
      this.invalidate(key);
    }
  }

  async copy(request: CopyRequest): Promise<WriteResult> {
    try {
      return await this.inner.copy(request);
    } finally {
      this.invalidate(request.destinationKey);
    }
  }

  createMultipartUpload(key: string, metadata: ObjectMetadata): Promise<MultipartUpload> {
    return this.inner.createMultipartUpload(key, metadata);
  }

  uploadPart(request: UploadPartRequest): Promise<PartInfo> {
    return this.inner.uploadPart(request);
  }

  listParts(key: string, uploadId: string): Promise<PartInfo[]> {
    return this.inner.listParts(key, uploadId);
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal): Promise<WriteResult> {
    try {
      return await this.inner.completeMultipartUpload(key, uploadId, parts, signal);
    } finally {
      this.invalidate(key);
    }
  }

  abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    return this.inner.abortMultipartUpload(key, uploadId);
  }

  listMultipartUploads(prefix: string): AsyncIterable<MultipartUpload> {
    return this.inner.listMultipartUploads(prefix);
  }

  getMultipartUpload(key: string, uploadId: string): Promise<MultipartUpload & { metadata: ObjectMetadata }> {
    return this.inner.getMultipartUpload(key, uploadId);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Forgets the metadata of `key` and drops the pages of the version it described. */
  invalidate(key: string): void {
    this.invalidations.set(key, (this.invalidations.get(key) ?? 0) + 1);
    this.statFlights.forget(key);
    const metaKey = metaKeyOf(this.mountTag, key);
    const previous = this.shared.metadata.get(metaKey);
    this.shared.metadata.delete(metaKey);
    if (previous) this.dropPagesOf(previous);
  }

  /** Drops cached metadata and pages of one key, or of every key under `prefix`. Returns objects purged. */
  async purge(target: { key: string } | { prefix: string }): Promise<number> {
    if ('key' in target) {
      const had = this.shared.metadata.get(metaKeyOf(this.mountTag, target.key)) !== undefined;
      this.invalidate(target.key);
      return had ? 1 : 0;
    }
    const prefix = metaKeyOf(this.mountTag, target.prefix);
    const entries = this.shared.metadata.entries(prefix);
    for (const [, record] of entries) this.dropPagesOf(record);
    await this.shared.metadata.deletePrefix(prefix);
    return entries.length;
  }
}
