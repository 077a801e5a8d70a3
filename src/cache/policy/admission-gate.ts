/**
 * Per-mount admission rules, checked once per read request before any of its missed pages
 * is stored (the eviction policy then decides how long stored pages stay):
 *
 *   maxObjectBytes  objects larger than this are never cached (a mount of huge archives
 *                   that are read once); their reads go to the store every time.
 *   minUses         an object's pages are stored from its minUses-th read on ("cache after
 *                   the second read", as nginx's proxy_cache_min_uses and MinIO's cache
 *                   `after`): one-off reads cost nothing in the cache. 1 (the default)
 *                   caches on the first read.
 *
 * Reads are counted per object (objectId: mount + key + version), not per page, in a
 * bounded table of recent objects: a ring of 32-bit hashes in first-seen order and a Map
 * from hash to count. When the ring is full the oldest object is forgotten, so "the N-th
 * read" means the N-th among reads close enough together for the object to still be in the
 * table (`maxTrackedObjects` recent distinct objects), as nginx forgets keys that leave its
 * keys_zone. A hash collision can only make an object count as read more often.
 */
import { defaultKeyHash, HASH_MASK } from './key-hash';
import type { KeyHash } from './types';

export interface AdmissionRules {
  /** Objects larger than this many bytes are not cached. Absent: no limit. */
  maxObjectBytes?: number;
  /** Pages are cached from the object's minUses-th read on. Absent or 1: from the first. */
  minUses?: number;
}

interface AdmissionGateOptions {
  /** Distinct objects whose reads are counted (about 16 bytes each). Default 65,536. */
  maxTrackedObjects?: number;
  hash?: KeyHash<string>;
}

export class AdmissionGate {
  private readonly hash: KeyHash<string>;
  private readonly ring: Int32Array;
  private readonly counts = new Map<number, number>();
  private next = 0;
  private filled = 0;

  constructor(options: AdmissionGateOptions = {}) {
    const max = options.maxTrackedObjects ?? 65_536;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`maxTrackedObjects must be a positive integer, got ${max}`);
    this.hash = options.hash ?? (defaultKeyHash as KeyHash<string>);
    this.ring = new Int32Array(max);
  }

  /** Objects whose reads are being counted. */
  get tracked(): number {
    return this.counts.size;
  }

  /**
   * Records one read of an object and says whether the pages this read misses may be
   * stored. Call it once per read request (a GET or a ranged GET), not once per page.
   */
  admits(objectId: string, objectSize: number, rules: AdmissionRules): boolean {
    if (rules.maxObjectBytes !== undefined && objectSize > rules.maxObjectBytes) return false;
    const minUses = rules.minUses ?? 1;
    if (minUses <= 1) return true;
    return this.countRead(objectId) >= minUses;
  }

  /**
   * What admits() would answer for the next read, without counting one: for a page fetched
   * ahead of the read it belongs to (the first page brought with the metadata), whose own
   * admits() call follows.
   */
  wouldAdmit(objectId: string, objectSize: number, rules: AdmissionRules): boolean {
    if (rules.maxObjectBytes !== undefined && objectSize > rules.maxObjectBytes) return false;
    const minUses = rules.minUses ?? 1;
    return minUses <= 1 || this.reads(objectId) + 1 >= minUses;
  }

  /** Reads of the object counted so far (0 when not tracked). */
  reads(objectId: string): number {
    return this.counts.get(this.hash(objectId) & HASH_MASK) ?? 0;
  }

  clear(): void {
    this.counts.clear();
    this.next = 0;
    this.filled = 0;
  }

  private countRead(objectId: string): number {
    const hash = this.hash(objectId) & HASH_MASK;
    const count = (this.counts.get(hash) ?? 0) + 1;
    if (count === 1) {
      if (this.filled === this.ring.length) this.counts.delete(this.ring[this.next]);
      else this.filled++;
      this.ring[this.next] = hash;
      this.next = (this.next + 1) % this.ring.length;
    }
    this.counts.set(hash, count);
    return count;
  }
}
