/**
 * W-TinyLFU (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM ToS 2017), as Caffeine arranges it, byte-budgeted:
 *   window     LRU, 1% of the bytes: every new key enters here
 *   main       segmented LRU, 99%: probation (20% of main) and protected (80% of main);
 *              a hit in probation moves the key to protected, whose overflow is demoted to
 *              probation's young end
 *   admission  a key leaving the window (the candidate) enters main only if its estimated
 *              frequency beats that of main's victim (probation's old end, then protected's);
 *              with variable sizes the candidate is compared with victims one by one until
 *              it fits, as Caffeine's weighted eviction does
 *   frequency  a count-min sketch (4 rows of 4-bit saturating counters, as Caffeine's) with
 *              aging (every counter halved after 10 x width increments) and a doorkeeper
 *              (a Bloom filter absorbing each key's first occurrence, cleared on aging)
 * Caffeine's hill climber that resizes the window, and its random admission against hash
 * flooding, are not modelled: the window stays at 1%.
 *
 * admit() returns false when the new key loses its admission contest at once (a key larger
 * than the window goes straight to the contest); victims evicted by the contest before it
 * lost are still reported.
 */
import { defaultKeyHash } from '../../src/cache/policy/key-hash';
import type { EvictionPolicy, KeyHash } from '../../src/cache/policy/types';
import { LinkedList, newNode, type ListNode } from './linked-list';

class FrequencySketch {
  private readonly table: Uint8Array;
  private readonly door: Uint32Array;
  private readonly mask: number;
  private readonly doorMask: number;
  private additions = 0;
  readonly sampleSize: number;

  constructor(expectedEntries: number) {
    let width = 16;
    while (width < expectedEntries) width *= 2;
    this.table = new Uint8Array(width * 4);
    this.mask = width - 1;
    // Doorkeeper: about 8 bits per expected entry, two probes.
    this.door = new Uint32Array(Math.max(1, width / 4));
    this.doorMask = width * 8 - 1;
    this.sampleSize = 10 * width;
  }

  frequency(hash: number): number {
    let min = 15;
    for (let row = 0; row < 4; row++) min = Math.min(min, this.table[row * (this.mask + 1) + this.slot(hash, row)]);
    return min + (this.inDoor(hash) ? 1 : 0);
  }

  increment(hash: number): void {
    if (!this.inDoor(hash)) {
      this.addDoor(hash);
    } else {
      const width = this.mask + 1;
      for (let row = 0; row < 4; row++) {
        const i = row * width + this.slot(hash, row);
        if (this.table[i] < 15) this.table[i]++;
      }
    }
    if (++this.additions >= this.sampleSize) this.age();
  }

  private age(): void {
    for (let i = 0; i < this.table.length; i++) this.table[i] >>= 1;
    this.door.fill(0);
    this.additions = Math.floor(this.additions / 2);
  }

  private slot(hash: number, row: number): number {
    let h = Math.imul(hash ^ SEEDS[row], 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  private doorBits(hash: number): [number, number] {
    const a = Math.imul(hash, 0x85ebca6b) & this.doorMask;
    const b = Math.imul(hash ^ (hash >>> 16), 0xc2b2ae35) & this.doorMask;
    return [a, b];
  }

  private inDoor(hash: number): boolean {
    const [a, b] = this.doorBits(hash);
    return (this.door[a >>> 5] & (1 << (a & 31))) !== 0 && (this.door[b >>> 5] & (1 << (b & 31))) !== 0;
  }

  private addDoor(hash: number): void {
    const [a, b] = this.doorBits(hash);
    this.door[a >>> 5] |= 1 << (a & 31);
    this.door[b >>> 5] |= 1 << (b & 31);
  }
}

const SEEDS = [0x97cb3127, 0x8f3a5c11, 0x2b6f1d7e, 0x5e0a9c43];

interface WTinyLfuOptions<K> {
  maxBytes: number;
  /** Keys the cache is expected to hold (sizes the sketch): maxBytes / typical entry size. */
  expectedEntries: number;
  windowRatio?: number;
  protectedRatio?: number;
  hash?: KeyHash<K>;
}

export class WTinyLfuPolicy<K> implements EvictionPolicy<K> {
  readonly maxBytes: number;
  private readonly windowTarget: number;
  private readonly mainTarget: number;
  private readonly protectedTarget: number;
  private readonly sketch: FrequencySketch;
  private readonly hash: KeyHash<K>;
  private readonly index = new Map<K, ListNode<K>>();
  private readonly window = new LinkedList<K>('window');
  private readonly probation = new LinkedList<K>('probation');
  private readonly protectedList = new LinkedList<K>('protected');

  constructor(options: WTinyLfuOptions<K>) {
    this.maxBytes = options.maxBytes;
    this.windowTarget = Math.floor(options.maxBytes * (options.windowRatio ?? 0.01));
    this.mainTarget = options.maxBytes - this.windowTarget;
    this.protectedTarget = Math.floor(this.mainTarget * (options.protectedRatio ?? 0.8));
    this.sketch = new FrequencySketch(options.expectedEntries);
    this.hash = options.hash ?? (defaultKeyHash as KeyHash<K>);
  }

  get bytes(): number {
    return this.window.bytes + this.probation.bytes + this.protectedList.bytes;
  }

  get size(): number {
    return this.index.size;
  }

  has(key: K): boolean {
    return this.index.has(key);
  }

  access(key: K): boolean {
    const node = this.index.get(key);
    if (!node) return false;
    this.sketch.increment(this.hash(key));
    if (node.list === this.probation) {
      this.probation.unlink(node);
      this.protectedList.pushHead(node);
      while (this.protectedList.bytes > this.protectedTarget) this.probation.pushHead(this.protectedList.popTail() as ListNode<K>);
    } else (node.list as LinkedList<K>).moveToHead(node);
    return true;
  }

  admit(key: K, size: number, evicted?: K[]): boolean {
    if (size > this.maxBytes || this.index.has(key)) return false;
    this.sketch.increment(this.hash(key));
    const node = newNode(key, size);
    this.index.set(key, node);
    this.window.pushHead(node);
    while (this.window.bytes > this.windowTarget && this.window.tail) this.toMain(this.window.popTail() as ListNode<K>, evicted);
    // The window may hold more than its share while main is short of its own (a key larger
    // than the window): keep the total within budget by evicting from the window too.
    while (this.bytes > this.maxBytes) this.evict((this.window.popTail() as ListNode<K>) ?? this.mainVictim(), evicted);
    if (this.index.has(key)) return true;
    // The new key lost its admission contest at once (it was larger than the window): it was
    // never resident for the caller, though the contest may have evicted others first.
    const self = evicted ? evicted.lastIndexOf(key) : -1;
    if (self >= 0) evicted?.splice(self, 1);
    return false;
  }

  trimTo(bytes: number, evicted?: K[]): void {
    while (this.bytes > bytes) {
      const victim = this.mainVictim() ?? this.window.tail;
      if (!victim) break;
      this.evict(victim, evicted);
    }
  }

  remove(key: K): boolean {
    const node = this.index.get(key);
    if (!node) return false;
    node.list?.unlink(node);
    this.index.delete(key);
    return true;
  }

  keys(): IterableIterator<K> {
    return this.index.keys();
  }

  clear(): void {
    this.index.clear();
    this.window.clear();
    this.probation.clear();
    this.protectedList.clear();
  }

  /** The candidate leaving the window competes with main's victims until it fits or loses. */
  private toMain(candidate: ListNode<K>, evicted: K[] | undefined): void {
    const candidateFreq = this.sketch.frequency(this.hash(candidate.key));
    while (this.probation.bytes + this.protectedList.bytes + candidate.size > this.mainTarget) {
      const victim = this.mainVictim();
      if (!victim) break;
      if (candidateFreq > this.sketch.frequency(this.hash(victim.key))) this.evict(victim, evicted);
      else {
        this.evict(candidate, evicted);
        return;
      }
    }
    if (this.probation.bytes + this.protectedList.bytes + candidate.size > this.mainTarget) {
      this.evict(candidate, evicted); // larger than main itself
      return;
    }
    this.probation.pushHead(candidate);
  }

  private mainVictim(): ListNode<K> | undefined {
    return this.probation.tail ?? this.protectedList.tail;
  }

  private evict(node: ListNode<K> | undefined, evicted: K[] | undefined): void {
    if (!node) return;
    node.list?.unlink(node);
    this.index.delete(node.key);
    evicted?.push(node.key);
  }
}
