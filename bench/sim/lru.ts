/**
 * Byte-budgeted LRU over a Map in insertion order (re-inserted on access), the structure of
 * the gateway's disk tier; the memory tier's lru-cache behaves the same (LRU by bytes, an
 * entry larger than the budget is not stored).
 */
import type { EvictionPolicy } from '../../src/cache/policy/types';

export class LruPolicy<K> implements EvictionPolicy<K> {
  private readonly entries = new Map<K, number>();
  private used = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  access(key: K): boolean {
    const size = this.entries.get(key);
    if (size === undefined) return false;
    this.entries.delete(key);
    this.entries.set(key, size);
    return true;
  }

  admit(key: K, size: number, evicted?: K[]): boolean {
    if (size > this.maxBytes || this.entries.has(key)) return false;
    this.trimTo(this.maxBytes - size, evicted);
    this.entries.set(key, size);
    this.used += size;
    return true;
  }

  trimTo(bytes: number, evicted?: K[]): void {
    while (this.used > bytes && this.entries.size > 0) {
      const oldest = this.entries.entries().next().value as [K, number];
      this.entries.delete(oldest[0]);
      this.used -= oldest[1];
      evicted?.push(oldest[0]);
    }
  }

  remove(key: K): boolean {
    const size = this.entries.get(key);
    if (size === undefined) return false;
    this.entries.delete(key);
    this.used -= size;
    return true;
  }

  keys(): IterableIterator<K> {
    return this.entries.keys();
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}
