/**
 * SIEVE (Zhang, Yang, Yue, Vigfusson, Rashmi: "SIEVE is Simpler than LRU", NSDI 2024),
 * byte-budgeted: one FIFO queue with a visited bit per object; a hit sets the bit; the
 * "hand" walks from the old end towards the young end, clearing set bits and evicting the
 * first object whose bit is clear, and stays where it stopped (it does not go back to the
 * old end after an eviction, which is what makes SIEVE different from CLOCK/FIFO-reinsertion:
 * survivors keep their place instead of moving to the head).
 */
import type { EvictionPolicy } from '../../src/cache/policy/types';
import { LinkedList, newNode, type ListNode } from './linked-list';

export class SievePolicy<K> implements EvictionPolicy<K> {
  private readonly index = new Map<K, ListNode<K>>();
  private readonly queue = new LinkedList<K>('queue');
  private hand: ListNode<K> | undefined;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.queue.bytes;
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
    node.mark = 1;
    return true;
  }

  admit(key: K, size: number, evicted?: K[]): boolean {
    if (size > this.maxBytes || this.index.has(key)) return false;
    this.trimTo(this.maxBytes - size, evicted);
    const node = newNode(key, size);
    this.queue.pushHead(node);
    this.index.set(key, node);
    return true;
  }

  trimTo(bytes: number, evicted?: K[]): void {
    while (this.queue.bytes > bytes && this.queue.length > 0) this.evictOne(evicted);
  }

  remove(key: K): boolean {
    const node = this.index.get(key);
    if (!node) return false;
    if (this.hand === node) this.hand = node.next;
    this.queue.unlink(node);
    this.index.delete(key);
    return true;
  }

  keys(): IterableIterator<K> {
    return this.index.keys();
  }

  clear(): void {
    this.index.clear();
    this.queue.clear();
    this.hand = undefined;
  }

  private evictOne(evicted: K[] | undefined): void {
    let node = this.hand ?? this.queue.tail;
    while (node && node.mark === 1) {
      node.mark = 0;
      node = node.next ?? this.queue.tail;
    }
    if (!node) return;
    this.hand = node.next;
    this.queue.unlink(node);
    this.index.delete(node.key);
    evicted?.push(node.key);
  }
}
