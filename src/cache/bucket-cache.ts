/**
 * The cache of one bucket's objects on this node: a capability the bucket is handed (not a
 * decorator of its store). It answers stats through the metadata cache (TTL, negative entries,
 * serve-stale while the store is down), reads byte ranges of a known version through the paged
 * cache, warms objects for preload jobs, reports residency, and forgets keys that were written.
 *
 * The cache is best-effort: a cache failure is a miss, never a failed read.
 */
import { LRUCache } from 'lru-cache';
import type { ByteRange, ObjectInfo, UfsAdapter } from '../../ufs-adapters/types';
import { isUfsError, ufsError } from '../../ufs-adapters/errors';
import { statWithPage, type FirstPageContext } from './first-page-fill';
import type { MetadataEntry } from './metadata-cache';
import { metaKeyOf, mountTagOf, objectIdOf } from './object-version';
import type { AdmissionRules } from './policy/admission-gate';
import { openRange, rangeBody, residentPage, type PageSource, type RangeBody } from './page-reader';
import type { SharedCache } from './shared-cache';
import { SingleFlight } from './single-flight';
import { untilAborted } from '../util/until-aborted';
import { pageKeyOf, type Placement } from './types';
import { loadMissingPages } from './warm-pages';

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
  /** This mount's admission rules (mounts.*.cache): objects too large, or read too few times, are not cached. */
  admission?: AdmissionRules;
}

interface WarmOptions {
  /** Only fetch and cache the metadata. */
  metadataOnly?: boolean;
  /**
   * true (default): pages already cached are counted as skipped and not read. false:
   * revalidate the metadata and read every page from the store again.
   */
  skipCached?: boolean;
  signal?: AbortSignal;
}

interface WarmResult {
  size: number;
  bytesLoaded: number;
  bytesSkipped: number;
}

/** Which pages of the cached version of an object this node holds. */
interface Residency {
  size: number;
  etag: string;
  pages: number;
  memory: number;
  disk: number;
}

interface StatOptions {
  signal?: AbortSignal;
  /**
   * The first byte the caller is about to read. On a metadata miss the store is asked for the
   * page holding it together with the metadata, where the store can (one round trip, not two).
   */
  firstByte?: number;
}

/** Errors that mean "the store cannot be reached", as opposed to an answer from it. */
const isStoreDown = (err: unknown): boolean => isUfsError(err, 'Unavailable') || isUfsError(err, 'Throttled') || !isUfsError(err);

/** Two stat answers describe the same version of an object. */
const sameVersion = (a: ObjectInfo, b: ObjectInfo): boolean =>
  a.etag === b.etag && a.size === b.size && a.lastModified.getTime() === b.lastModified.getTime();

export class BucketCache {
  private readonly mountTag: string;
  private readonly statFlights: SingleFlight<ObjectInfo | null>;
  /** Page-id prefix of each version read, computed once per version this node holds. */
  private readonly objectIds = new WeakMap<ObjectInfo, string>();
  /**
   * Invalidation count per recently invalidated key: a stat that started before a write
   * finished must not record what it saw (it may be the old version).
   */
  private readonly invalidations = new LRUCache<string, number>({ max: 100_000, ttl: 10 * 60_000 });
  /** A metadata miss that brings the first page along (first-page-fill.ts). */
  private readonly firstPage: FirstPageContext;

  constructor(
    /** The bucket's store (this cache reads it on misses; writes go to it directly). */
    readonly store: UfsAdapter,
    private readonly mountId: string,
    private readonly shared: SharedCache,
    readonly settings: CacheSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.mountTag = mountTagOf(mountId);
    this.statFlights = new SingleFlight(() => shared.metrics.singleFlightJoins.inc());
    this.firstPage = {
      store,
      shared,
      settings,
      objectId: (key, info) => this.objectId(key, info),
      admits: (objectId, size) => this.admits(objectId, size, false),
    };
  }

  /**
   * What this node may answer for `key` without asking the store: the object's info, `null`
   * when it is known not to exist, undefined when the store must be asked (no entry, expired,
   * or from before the last ring change). Counts the lookup when it answers, unless `count` is
   * false (the caller counts it once it used the answer).
   */
  fresh(key: string, count = true): ObjectInfo | null | undefined {
    const entry = this.shared.metadata.get(metaKeyOf(this.mountTag, key));
    if (entry === undefined || !this.trusted(key, entry)) return undefined;
    if (count) this.shared.metrics.metadataLookupCells.cell(entry.info ? 'fresh' : 'negative').add();
    return entry.info;
  }

  /**
   * Whether an entry may be served without asking the store: fetched after the last expiry
   * (start-up), within its TTL (changes made behind the gateway's back), and, in a cluster, while
   * this node owned the key without a break since the fetch (writes through the gateway all went
   * through this node then, and it forgot the key on each). Only keys whose owner changed fail
   * the last test; a ring change revalidates nothing else.
   */
  private trusted(key: string, entry: MetadataEntry): boolean {
    if (entry.fetchedAt < this.shared.metadata.validAfter) return false;
    if (this.now() - entry.fetchedAt >= (entry.info ? this.settings.metadataTtlMs : this.settings.negativeTtlMs)) return false;
    return this.ownedThroughout(key, entry);
  }

  private ownedThroughout(key: string, entry: MetadataEntry): boolean {
    const ownership = this.shared.ownership;
    return ownership === undefined || this.settings.bucket === undefined || ownership.trusts(this.settings.bucket, key, entry.seq, entry);
  }

  /** The object's info: cached while fresh, else from the store (shared by concurrent callers). */
  async stat(key: string, options: StatOptions = {}): Promise<ObjectInfo> {
    const known = this.fresh(key);
    if (known === null) throw ufsError('NotFound', 'object not found (cached)');
    if (known !== undefined) return known;
    const { signal } = options;
    const metaKey = metaKeyOf(this.mountTag, key);
    try {
      // The stat is shared by every caller of this key, so it runs without any one caller's
      // signal (one client leaving must not fail the others); each caller stops waiting on its own.
      signal?.throwIfAborted();
      const withPage = options.firstByte !== undefined && this.pageWithStat(key, metaKey, options.firstByte);
      const info = await untilAborted(this.statFlights.run(key, () => this.fetchStat(key, metaKey, withPage ? options.firstByte : undefined)), signal);
      this.shared.metrics.metadataLookupCells.cell('fetched').add();
      if (!info) throw ufsError('NotFound', 'object not found');
      return info;
    } catch (err) {
      if (signal?.aborted) throw err;
      const entry = this.shared.metadata.get(metaKey);
      // Serving stale is a choice for when the store cannot answer; in a cluster only an entry
      // this node kept while it owned the key throughout (no write elsewhere since) qualifies.
      if (entry?.info && this.settings.serveStale && this.now() - entry.fetchedAt < this.settings.maxStalenessMs && isStoreDown(err) && this.ownedThroughout(key, entry)) {
        this.shared.metrics.metadataLookupCells.cell('stale').add();
        return entry.info;
      }
      throw err;
    }
  }

  /**
   * Whether a metadata miss should bring the page holding `firstByte` with it: the store can, no
   * previous owner may hand the page over, and this node does not already hold that page of the
   * version it knew (a revalidation then costs a stat, not a page).
   */
  private pageWithStat(key: string, metaKey: string, firstByte: number): boolean {
    if (!this.store.readWithInfo) return false;
    const bucket = this.settings.bucket;
    if (bucket !== undefined && this.shared.peerPages?.mayHave(bucket, key)) return false;
    const known = this.shared.metadata.get(metaKey)?.info;
    if (!known || firstByte >= known.size) return true;
    return !this.shared.pages.has(pageKeyOf(this.objectId(key, known), Math.floor(firstByte / this.settings.pageSize)));
  }

  /** Asks the store (with a first page where it can); records the answer, "not found" included. */
  private async fetchStat(key: string, metaKey: string, firstByte: number | undefined): Promise<ObjectInfo | null> {
    this.shared.metrics.ufsStats.labels(this.store.kind).inc();
    const fetchedAt = this.now();
    const generation = this.invalidations.get(key) ?? 0;
    // In a cluster, an answer is kept only if this node is the key's settled owner as the store
    // is asked, and under the ownership record of that moment.
    const ownership = this.shared.ownership;
    const bucket = this.settings.bucket;
    const seq = ownership && bucket !== undefined ? ownership.recordSeq(bucket, key) : undefined;
    const keep = ownership === undefined || bucket === undefined || seq !== undefined;
    const record = (info: ObjectInfo | null): void => {
      if (keep && (this.invalidations.get(key) ?? 0) === generation) this.remember(metaKey, info, fetchedAt, seq);
    };
    try {
      const info = firstByte !== undefined && this.store.readWithInfo ? await statWithPage(this.firstPage, key, firstByte) : await this.store.stat(key);
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

  /** Stores an answer; drops the pages of the version it replaces. */
  private remember(metaKey: string, info: ObjectInfo | null, fetchedAt: number, seq: number | undefined): void {
    const previous = this.shared.metadata.get(metaKey);
    this.shared.metadata.set(metaKey, info, fetchedAt, seq);
    if (previous?.info && (!info || !sameVersion(previous.info, info))) this.dropPagesOf(previous.info);
  }

  private dropPagesOf(info: ObjectInfo): void {
    this.shared.pages.dropObject(this.objectId(info.key, info)).catch(() => this.shared.metrics.cacheErrors.labels('drop-object').inc());
  }

  /** Page-id prefix of one version of `key`, cut at this node's page size. */
  private objectId(key: string, info: ObjectInfo): string {
    let id = this.objectIds.get(info);
    if (id === undefined) {
      id = objectIdOf(this.mountId, key, info, this.settings.pageSize);
      this.objectIds.set(info, id);
    }
    return id;
  }

  /**
   * The bytes of `range` of the version `info` describes, its first page loaded before this
   * resolves. `keep: false` (reads for an owner that is away) serves pages without keeping them.
   * A store that has another version fails the read with PreconditionFailed, and this node
   * forgets what it knew of the key.
   */
  async read(key: string, info: ObjectInfo, range: ByteRange, keep = true): Promise<RangeBody> {
    const source = this.pageSource(key, info, keep && this.admits(this.objectId(key, info), info.size, true));
    try {
      const body = await openRange(source, range, this.settings.readAheadPages);
      // Mid-stream (after headers), the response can only be aborted: never a mix of versions.
      if (!Buffer.isBuffer(body)) body.once('error', (err) => this.forgetIfChanged(key, err));
      return body;
    } catch (err) {
      this.forgetIfChanged(key, err);
      throw err;
    }
  }

  /**
   * The body of `range` if its first page is resident (no waiting), else undefined. A resident
   * object was admitted already: only the size rule is checked (no read counting on hits).
   */
  readResident(key: string, info: ObjectInfo, range: ByteRange): RangeBody | undefined {
    const max = this.settings.admission?.maxObjectBytes;
    const source = this.pageSource(key, info, max === undefined || info.size <= max);
    const first = residentPage(source, Math.floor(range.start / source.pageSize));
    if (!first) return undefined;
    const body = rangeBody(source, range, this.settings.readAheadPages, first);
    if (!Buffer.isBuffer(body)) body.once('error', (err) => this.forgetIfChanged(key, err));
    return body;
  }

  /**
   * Whether pages of this read may be stored, by the mount's rules. `count`: this is the read
   * (it counts towards minUses); otherwise only ask.
   */
  private admits(objectId: string, size: number, count: boolean): boolean {
    const rules = this.settings.admission;
    if (rules === undefined) return true;
    if (rules.maxObjectBytes !== undefined && size > rules.maxObjectBytes) return false;
    const gate = this.shared.admission;
    if ((rules.minUses ?? 1) <= 1 || gate === undefined) return true;
    return count ? gate.admits(objectId, size, rules) : gate.wouldAdmit(objectId, size, rules);
  }

  /** The store has another version than our metadata: forget it, so the next stat asks. */
  private forgetIfChanged(key: string, err: unknown): void {
    if (isUfsError(err, 'PreconditionFailed') || isUfsError(err, 'NotFound')) this.invalidate(key);
  }

  private pageSource(key: string, info: ObjectInfo, keep = true, askPeers = true, placement: Placement = 'read'): PageSource {
    const peerPages = askPeers ? this.shared.peerPages : undefined;
    const bucket = this.settings.bucket;
    return {
      keep,
      placement,
      idleTimeoutMs: this.settings.storeIdleTimeoutMs ?? 30_000,
      peerPage: peerPages && bucket !== undefined ? (pageKey, length) => peerPages.fetch({ bucket, key, pageKey, length }) : undefined,
      unkept: this.shared.unkept,
      store: this.store,
      key,
      info,
      objectId: this.objectId(key, info),
      pageSize: this.settings.pageSize,
      pages: this.shared.pages,
      fills: this.shared.pageFills,
      metrics: this.shared.metrics,
    };
  }

  /**
   * Loads an object into this node's cache (a preload job's unit of work): its metadata,
   * then every page not already held, a few pages at a time. A preload says the pages will be
   * read: they enter the policy as proven (S3-FIFO's main queue), not on probation, and the
   * mount's minUses does not apply. Its maxObjectBytes does: a larger object loads its
   * metadata only.
   */
  async warm(key: string, options: WarmOptions = {}): Promise<WarmResult> {
    if (options.skipCached === false) {
      const before = await this.stat(key, { signal: options.signal }).catch(() => undefined);
      if (before) await this.shared.pages.dropObject(this.objectId(key, before));
      this.invalidate(key);
    }
    const info = await this.stat(key, { signal: options.signal });
    const result: WarmResult = { size: info.size, bytesLoaded: 0, bytesSkipped: 0 };
    const max = this.settings.admission?.maxObjectBytes;
    if (options.metadataOnly || info.size === 0 || (max !== undefined && info.size > max)) return result;
    // A forced reload reads the store itself, not a peer's copy.
    const source = this.pageSource(key, info, true, options.skipCached !== false, 'preload');
    await loadMissingPages(source, this.settings.readAheadPages + 1, result, options.signal);
    return result;
  }

  /** The pages of `key` this node holds, for the version its metadata cache knows (undefined: none known). */
  residency(key: string): Residency | undefined {
    const info = this.shared.metadata.get(metaKeyOf(this.mountTag, key))?.info;
    if (!info) return undefined;
    const objectId = this.objectId(key, info);
    const pages = Math.ceil(info.size / this.settings.pageSize);
    const residency: Residency = { size: info.size, etag: info.etag, pages, memory: 0, disk: 0 };
    for (let i = 0; i < pages; i++) {
      const tier = this.shared.pages.has(pageKeyOf(objectId, i));
      if (tier) residency[tier]++;
    }
    return residency;
  }

  /** Forgets the metadata of `key` and drops the pages of the version it described. */
  invalidate(key: string): void {
    this.invalidations.set(key, (this.invalidations.get(key) ?? 0) + 1);
    this.statFlights.forget(key);
    const metaKey = metaKeyOf(this.mountTag, key);
    const previous = this.shared.metadata.get(metaKey);
    this.shared.metadata.delete(metaKey);
    if (previous?.info) this.dropPagesOf(previous.info);
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
    for (const [, entry] of entries) if (entry.info) this.dropPagesOf(entry.info);
    await this.shared.metadata.deletePrefix(prefix);
    return entries.length;
  }
}
