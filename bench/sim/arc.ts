/**
 * ARC (Megiddo, Modha: "ARC: A Self-Tuning, Low Overhead Replacement Cache", FAST 2003),
 * adapted to a byte budget c: every size and the target p are in bytes.
 *   T1  resident, seen once recently (LRU)      B1  ghosts evicted from T1
 *   T2  resident, seen at least twice (LRU)     B2  ghosts evicted from T2
 * A miss that is a B1 ghost grows p (recency was cut too short), a B2 ghost shrinks it; the
 * step is the ghost's size times the ratio of the other ghost list's bytes to this one's
 * (at least the size), the byte form of the paper's max(1, |B2|/|B1|). REPLACE evicts from
 * T1 while T1 holds more than p bytes (or exactly p on a B2 ghost hit), else from T2.
 * Ghost lists are bounded as in the paper, in bytes: T1 + B1 <= c and T1 + T2 + B1 + B2 <= 2c.
 */
import type { EvictionPolicy } from '../../src/cache/policy/types';
import { LinkedList, newNode, type ListNode } from './linked-list';

export class ArcPolicy<K> implements EvictionPolicy<K> {
  private readonly index = new Map<K, ListNode<K>>();
  private readonly t1 = new LinkedList<K>('t1');
  private readonly t2 = new LinkedList<K>('t2');
  private readonly b1 = new LinkedList<K>('b1');
  private readonly b2 = new LinkedList<K>('b2');
  private p = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.t1.bytes + this.t2.bytes;
  }

  get size(): number {
    return this.t1.length + this.t2.length;
  }

  has(key: K): boolean {
    const list = this.index.get(key)?.list;
    return list === this.t1 || list === this.t2;
  }

  access(key: K): boolean {
    const node = this.index.get(key);
    if (!node || (node.list !== this.t1 && node.list !== this.t2)) return false;
    (node.list as LinkedList<K>).unlink(node);
    this.t2.pushHead(node);
    return true;
  }

  admit(key: K, size: number, evicted?: K[]): boolean {
    if (size > this.maxBytes) return false;
    const c = this.maxBytes;
    const node = this.index.get(key);
    if (node && (node.list === this.t1 || node.list === this.t2)) return false;
    if (node && node.list === this.b1) {
      this.p = Math.min(c, this.p + Math.max(size, (size * this.b2.bytes) / Math.max(1, this.b1.bytes)));
      this.b1.unlink(node);
      node.size = size;
      this.replace(size, false, evicted);
      this.t2.pushHead(node);
    } else if (node && node.list === this.b2) {
      this.p = Math.max(0, this.p - Math.max(size, (size * this.b1.bytes) / Math.max(1, this.b2.bytes)));
      this.b2.unlink(node);
      node.size = size;
      this.replace(size, true, evicted);
      this.t2.pushHead(node);
    } else {
      this.replace(size, false, evicted);
      const fresh = newNode(key, size);
      this.index.set(key, fresh);
      this.t1.pushHead(fresh);
    }
    this.trimGhosts();
    return true;
  }

  trimTo(bytes: number, evicted?: K[]): void {
    this.replace(this.maxBytes - bytes, false, evicted);
    this.trimGhosts();
  }

  remove(key: K): boolean {
    const node = this.index.get(key);
    if (!node) return false;
    const resident = node.list === this.t1 || node.list === this.t2;
    node.list?.unlink(node);
    this.index.delete(key);
    return resident;
  }

  keys(): IterableIterator<K> {
    const resident = [...this.index.values()].filter((n) => n.list === this.t1 || n.list === this.t2).map((n) => n.key);
    return resident[Symbol.iterator]();
  }

  clear(): void {
    this.index.clear();
    for (const list of [this.t1, this.t2, this.b1, this.b2]) list.clear();
    this.p = 0;
  }

  private replace(incoming: number, ghostInB2: boolean, evicted: K[] | undefined): void {
    while (this.t1.bytes + this.t2.bytes + incoming > this.maxBytes) {
      const fromT1 = this.t1.length > 0 && (this.t1.bytes > this.p || (ghostInB2 && this.t1.bytes >= this.p) || this.t2.length === 0);
      const victim = (fromT1 ? this.t1 : this.t2).popTail() as ListNode<K>;
      (fromT1 ? this.b1 : this.b2).pushHead(victim);
      evicted?.push(victim.key);
    }
  }

  private trimGhosts(): void {
    const c = this.maxBytes;
    while (this.t1.bytes + this.b1.bytes > c && this.b1.length > 0) this.index.delete((this.b1.popTail() as ListNode<K>).key);
    while (this.t1.bytes + this.t2.bytes + this.b1.bytes + this.b2.bytes > 2 * c && this.b2.length > 0) this.index.delete((this.b2.popTail() as ListNode<K>).key);
  }
}
