/**
 * Belady's offline policy, for a byte budget: on a miss, evict the resident pages whose next
 * use is furthest in the future until the new page fits, and do not admit the new page at
 * all if its own next use is further than every resident page's (it would be the first to
 * go). With equal sizes this is Belady's MIN, the exact optimum of the hit ratio. With
 * variable sizes the exact optimum is NP-hard; "furthest next use first" is the standard
 * heuristic, a good upper reference but neither exactly optimal for bytes nor for objects.
 *
 * Implementation: the next use of every request is computed in one backward pass; resident
 * pages sit in a max-heap keyed by their next use, with lazy deletion (a heap entry is stale
 * when it no longer matches its page's current next use).
 */
import type { PageTrace } from '../traces/pages';

interface BeladyResult {
  /** Per page request: 1 on a hit. */
  hits: Uint8Array;
}

export function runBelady(trace: PageTrace, maxBytes: number): BeladyResult {
  const { pages, pageSize } = trace;
  const n = pages.length;
  const NEVER = n; // later than any request
  const nextUse = new Int32Array(n);
  const lastSeen = new Int32Array(trace.distinctPages).fill(NEVER);
  for (let i = n - 1; i >= 0; i--) {
    nextUse[i] = lastSeen[pages[i]];
    lastSeen[pages[i]] = i;
  }
  /** Next use of each resident page (-1: not resident). */
  const residentNext = new Int32Array(trace.distinctPages).fill(-1);
  const heap = new MaxHeap();
  const hits = new Uint8Array(n);
  let used = 0;
  for (let i = 0; i < n; i++) {
    const page = pages[i];
    const next = nextUse[i];
    const size = pageSize[page];
    if (residentNext[page] >= 0) {
      hits[i] = 1;
      residentNext[page] = next;
      heap.push(next, page);
      continue;
    }
    if (size > maxBytes || next === NEVER) continue; // never read again: do not admit
    // Evict the furthest-used pages while the new page does not fit, unless the new page is
    // itself the furthest.
    let admit = true;
    while (used + size > maxBytes) {
      const top = topLive(heap, residentNext);
      if (top === -1) break;
      if (heap.topKey() <= next) {
        admit = false;
        break;
      }
      heap.pop();
      residentNext[top] = -1;
      used -= pageSize[top];
    }
    if (!admit || used + size > maxBytes) continue;
    residentNext[page] = next;
    used += size;
    heap.push(next, page);
  }
  return { hits };
}

/** Drops stale entries; returns the live top page or -1. */
function topLive(heap: MaxHeap, residentNext: Int32Array): number {
  while (heap.length > 0) {
    const page = heap.topValue();
    if (residentNext[page] === heap.topKey()) return page;
    heap.pop();
  }
  return -1;
}

/** A binary max-heap of (key, value) integer pairs in typed arrays. */
class MaxHeap {
  private keys = new Int32Array(1024);
  private values = new Int32Array(1024);
  length = 0;

  push(key: number, value: number): void {
    if (this.length === this.keys.length) {
      const keys = new Int32Array(this.keys.length * 2);
      keys.set(this.keys);
      const values = new Int32Array(this.values.length * 2);
      values.set(this.values);
      this.keys = keys;
      this.values = values;
    }
    let i = this.length++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.keys[parent] >= key) break;
      this.keys[i] = this.keys[parent];
      this.values[i] = this.values[parent];
      i = parent;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }

  topKey(): number {
    return this.keys[0];
  }

  topValue(): number {
    return this.values[0];
  }

  pop(): void {
    const last = --this.length;
    if (last === 0) return;
    const key = this.keys[last];
    const value = this.values[last];
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= last) break;
      if (child + 1 < last && this.keys[child + 1] > this.keys[child]) child++;
      if (this.keys[child] <= key) break;
      this.keys[i] = this.keys[child];
      this.values[i] = this.values[child];
      i = child;
    }
    this.keys[i] = key;
    this.values[i] = value;
  }
}
