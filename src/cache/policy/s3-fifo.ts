/**
 * S3-FIFO (Yang, Zhang, Qiu, Yue, Vinayak: "FIFO queues are all you need for cache
 * eviction", SOSP 2023), byte-budgeted.
 *
 *   small  FIFO, ~10% of the bytes: where a new key starts. When a key reaches its old end it
 *          moves to main if it was read again while in small (freq >= moveToMainThreshold),
 *          else it is evicted and remembered in the ghost queue. One-hit wonders and the
 *          objects of a one-pass scan therefore leave after a short stay in 10% of the cache,
 *          without touching the hot set in main.
 *   main   FIFO with a 2-bit frequency per key (CLOCK-like): a key at the old end with
 *          freq > 0 is reinserted at the young end with freq - 1, else evicted (no ghost).
 *   ghost  hashes and sizes of keys evicted from small, bounded by ghostRatio * maxBytes
 *          bytes and maxGhostEntries entries (see GhostQueue). A key that misses but is a
 *          ghost goes straight to main: it was re-read soon after a short stay.
 *
 * A hit only increments a saturating 2-bit counter (no list moves), so hits are cheap and
 * need no reordering. Eviction runs on admit: from small while small holds at least its
 * share of the bytes, else from main. A key larger than small's share is still admitted to
 * small (it is simply the next to leave it, to the ghost, unless read again meanwhile): with
 * large pages in a small tier a second read is then what gets a page kept.
 *
 * Storage: one slot per resident key in typed arrays (size, hash, freq, queue, links of two
 * doubly linked lists) plus a Map from key to slot; slots are recycled through a free list
 * and the arrays grow by doubling. access() allocates nothing; admit() allocates only
 * inside the Map (and when the arrays grow).
 */
import { GhostQueue } from './ghost-queue';
import { defaultKeyHash, HASH_MASK } from './key-hash';
import type { EvictionPolicy, KeyHash } from './types';

interface S3FifoOptions<K> {
  /** Byte budget of the resident keys. */
  maxBytes: number;
  /** Share of maxBytes for the small queue. Default 0.1 (the paper's). */
  smallRatio?: number;
  /** Byte bound of the ghost queue as a share of maxBytes. Default 0.9 (the main queue's share). */
  ghostRatio?: number;
  /** Entry bound of the ghost queue (memory bound for tiny objects). Default 1,048,576. */
  maxGhostEntries?: number;
  /** Reads while in small (after the first) needed to move to main. Default 1. */
  moveToMainThreshold?: number;
  /** Hash of a key for the ghost queue. Default: FNV-1a for strings, a mix for numbers. */
  hash?: KeyHash<K>;
}

interface S3FifoStats {
  smallBytes: number;
  smallKeys: number;
  mainBytes: number;
  mainKeys: number;
  ghostBytes: number;
  ghostKeys: number;
}

const NONE = -1;
const Q_FREE = 0;
const Q_SMALL = 1;
const Q_MAIN = 2;
const MAX_FREQ = 3;

export class S3Fifo<K> implements EvictionPolicy<K> {
  readonly maxBytes: number;
  readonly smallTarget: number;
  readonly moveToMainThreshold: number;
  private readonly hash: KeyHash<K>;
  private readonly ghost: GhostQueue;

  private readonly index = new Map<K, number>();
  private keyOf: (K | undefined)[] = [];
  private sizeOf: Float64Array;
  private hashOf: Int32Array;
  private freqOf: Uint8Array;
  private queueOf: Uint8Array;
  /** Links towards the young end (next) and the old end (prev); NONE at the ends. */
  private nextOf: Int32Array;
  private prevOf: Int32Array;
  /** Recycled slots (a stack); `used` slots have ever been handed out. */
  private freeSlots: Int32Array;
  private freeCount = 0;
  private used = 0;

  /** Old end (eviction side) and young end of each queue. */
  private smallOld = NONE;
  private smallYoung = NONE;
  private mainOld = NONE;
  private mainYoung = NONE;
  private smallBytes = 0;
  private mainBytes = 0;
  private smallKeys = 0;

  constructor(options: S3FifoOptions<K>) {
    const { maxBytes } = options;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) throw new RangeError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    const smallRatio = options.smallRatio ?? 0.1;
    const ghostRatio = options.ghostRatio ?? 0.9;
    if (!(smallRatio > 0 && smallRatio < 1)) throw new RangeError(`smallRatio must be in (0, 1), got ${smallRatio}`);
    if (!(ghostRatio >= 0)) throw new RangeError(`ghostRatio must be >= 0, got ${ghostRatio}`);
    this.maxBytes = maxBytes;
    this.smallTarget = Math.floor(maxBytes * smallRatio);
    this.moveToMainThreshold = options.moveToMainThreshold ?? 1;
    this.hash = options.hash ?? (defaultKeyHash as KeyHash<K>);
    this.ghost = new GhostQueue(Math.floor(maxBytes * ghostRatio), options.maxGhostEntries ?? 1 << 20);
    const capacity = 64;
    this.sizeOf = new Float64Array(capacity);
    this.hashOf = new Int32Array(capacity);
    this.freqOf = new Uint8Array(capacity);
    this.queueOf = new Uint8Array(capacity);
    this.nextOf = new Int32Array(capacity);
    this.prevOf = new Int32Array(capacity);
    this.freeSlots = new Int32Array(capacity);
  }

  get bytes(): number {
    return this.smallBytes + this.mainBytes;
  }

  get size(): number {
    return this.index.size;
  }

  has(key: K): boolean {
    return this.index.has(key);
  }

  access(key: K): boolean {
    const slot = this.index.get(key);
    if (slot === undefined) return false;
    if (this.freqOf[slot] < MAX_FREQ) this.freqOf[slot]++;
    return true;
  }

  admit(key: K, size: number, evicted?: K[]): boolean {
    if (size > this.maxBytes || size < 0 || this.index.has(key)) return false;
    const hash = this.hash(key) & HASH_MASK;
    const toMain = this.ghost.take(hash);
    while (this.smallBytes + this.mainBytes + size > this.maxBytes) this.evictOne(evicted);
    const slot = this.allocate(key, size, hash);
    if (toMain) this.pushMain(slot);
    else this.pushSmall(slot);
    return true;
  }

  /**
   * Makes a key resident in main, as the youngest, without a ghost check: for seeding the
   * policy from a persisted index at startup (call it oldest first), and for keys known to be
   * wanted (a preload). Evicts as needed.
   */
  restore(key: K, size: number, evicted?: K[]): boolean {
    if (size > this.maxBytes || size < 0 || this.index.has(key)) return false;
    const hash = this.hash(key) & HASH_MASK;
    this.ghost.take(hash);
    while (this.smallBytes + this.mainBytes + size > this.maxBytes) this.evictOne(evicted);
    this.pushMain(this.allocate(key, size, hash));
    return true;
  }

  trimTo(bytes: number, evicted?: K[]): void {
    while (this.smallBytes + this.mainBytes > bytes && this.index.size > 0) this.evictOne(evicted);
  }

  remove(key: K): boolean {
    const slot = this.index.get(key);
    if (slot === undefined) return false;
    this.unlink(slot);
    this.release(slot);
    return true;
  }

  keys(): IterableIterator<K> {
    return this.index.keys();
  }

  clear(): void {
    this.index.clear();
    this.keyOf = [];
    this.used = 0;
    this.freeCount = 0;
    this.smallOld = this.smallYoung = this.mainOld = this.mainYoung = NONE;
    this.smallBytes = this.mainBytes = this.smallKeys = 0;
    this.ghost.clear();
  }

  /** Whether the key is resident in the small queue (admitted, not yet proven by a second read). */
  inSmall(key: K): boolean {
    const slot = this.index.get(key);
    return slot !== undefined && this.queueOf[slot] === Q_SMALL;
  }

  /**
   * Evicts a resident key now, as its queue would at its old end: a key in small becomes a
   * ghost (so a read soon after admits it straight to main); a key in main is forgotten.
   * Returns whether it was resident.
   */
  evict(key: K): boolean {
    const slot = this.index.get(key);
    if (slot === undefined) return false;
    if (this.queueOf[slot] === Q_SMALL) this.ghost.add(this.hashOf[slot], this.sizeOf[slot]);
    this.unlink(slot);
    this.release(slot);
    return true;
  }

  /** Live entries of the ghost queue (for memory accounting; no allocation). */
  get ghostSize(): number {
    return this.ghost.size;
  }

  /** Whether the key would be admitted straight to main (it is a ghost). */
  isGhost(key: K): boolean {
    return this.ghost.has(this.hash(key) & HASH_MASK);
  }

  stats(): S3FifoStats {
    return {
      smallBytes: this.smallBytes,
      smallKeys: this.smallKeys,
      mainBytes: this.mainBytes,
      mainKeys: this.index.size - this.smallKeys,
      ghostBytes: this.ghost.bytes,
      ghostKeys: this.ghost.size,
    };
  }

  // ---------------------------------------------------------------------------------------

  private evictOne(evicted: K[] | undefined): void {
    if (this.smallOld !== NONE && (this.smallBytes >= this.smallTarget || this.mainOld === NONE)) this.evictSmall(evicted);
    else this.evictMain(evicted);
  }

  /** Moves re-read keys from small's old end to main until one key is evicted (to the ghost). */
  private evictSmall(evicted: K[] | undefined): void {
    while (this.smallOld !== NONE) {
      const slot = this.smallOld;
      this.unlink(slot);
      if (this.freqOf[slot] >= this.moveToMainThreshold) {
        this.freqOf[slot] = 0;
        this.pushMain(slot);
        continue;
      }
      this.ghost.add(this.hashOf[slot], this.sizeOf[slot]);
      evicted?.push(this.keyOf[slot] as K);
      this.release(slot);
      return;
    }
    this.evictMain(evicted);
  }

  /** Gives keys at main's old end a second chance per unit of freq until one is evicted. */
  private evictMain(evicted: K[] | undefined): void {
    while (this.mainOld !== NONE) {
      const slot = this.mainOld;
      this.unlink(slot);
      const freq = this.freqOf[slot];
      if (freq > 0) {
        this.freqOf[slot] = freq - 1;
        this.pushMain(slot);
        continue;
      }
      evicted?.push(this.keyOf[slot] as K);
      this.release(slot);
      return;
    }
    // Both queues empty: nothing left to evict (admit's loop cannot spin: size <= maxBytes).
  }

  private allocate(key: K, size: number, hash: number): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.freeSlots[--this.freeCount];
    else {
      if (this.used === this.sizeOf.length) this.grow();
      slot = this.used++;
    }
    this.keyOf[slot] = key;
    this.sizeOf[slot] = size;
    this.hashOf[slot] = hash;
    this.freqOf[slot] = 0;
    this.index.set(key, slot);
    return slot;
  }

  private release(slot: number): void {
    this.index.delete(this.keyOf[slot] as K);
    this.keyOf[slot] = undefined;
    this.queueOf[slot] = Q_FREE;
    this.freeSlots[this.freeCount++] = slot;
  }

  private pushSmall(slot: number): void {
    this.queueOf[slot] = Q_SMALL;
    this.prevOf[slot] = this.smallYoung;
    this.nextOf[slot] = NONE;
    if (this.smallYoung !== NONE) this.nextOf[this.smallYoung] = slot;
    else this.smallOld = slot;
    this.smallYoung = slot;
    this.smallBytes += this.sizeOf[slot];
    this.smallKeys++;
  }

  private pushMain(slot: number): void {
    this.queueOf[slot] = Q_MAIN;
    this.prevOf[slot] = this.mainYoung;
    this.nextOf[slot] = NONE;
    if (this.mainYoung !== NONE) this.nextOf[this.mainYoung] = slot;
    else this.mainOld = slot;
    this.mainYoung = slot;
    this.mainBytes += this.sizeOf[slot];
  }

  private unlink(slot: number): void {
    const prev = this.prevOf[slot];
    const next = this.nextOf[slot];
    const small = this.queueOf[slot] === Q_SMALL;
    if (prev !== NONE) this.nextOf[prev] = next;
    else if (small) this.smallOld = next;
    else this.mainOld = next;
    if (next !== NONE) this.prevOf[next] = prev;
    else if (small) this.smallYoung = prev;
    else this.mainYoung = prev;
    if (small) {
      this.smallBytes -= this.sizeOf[slot];
      this.smallKeys--;
    } else this.mainBytes -= this.sizeOf[slot];
    this.queueOf[slot] = Q_FREE;
  }

  private grow(): void {
    const capacity = this.sizeOf.length * 2;
    const widen = <T extends Float64Array | Int32Array | Uint8Array>(from: T, make: (n: number) => T): T => {
      const to = make(capacity);
      to.set(from);
      return to;
    };
    this.sizeOf = widen(this.sizeOf, (n) => new Float64Array(n));
    this.hashOf = widen(this.hashOf, (n) => new Int32Array(n));
    this.freqOf = widen(this.freqOf, (n) => new Uint8Array(n));
    this.queueOf = widen(this.queueOf, (n) => new Uint8Array(n));
    this.nextOf = widen(this.nextOf, (n) => new Int32Array(n));
    this.prevOf = widen(this.prevOf, (n) => new Int32Array(n));
    this.freeSlots = widen(this.freeSlots, (n) => new Int32Array(n));
  }
}
