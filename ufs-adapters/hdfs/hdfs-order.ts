/**
 * HDFS and S3 order directory entries differently:
 * - the NameNode sorts children by the *signed* bytes of their UTF-8 names (INode.compareTo,
 *   Guava SignedBytes), so any byte >= 0x80 sorts before every ASCII byte, while S3 sorts
 *   by unsigned bytes (UTF-8 order);
 * - S3 places a folder "d" as "d/", after "d-x" and "d.x", which HDFS lists after "d".
 *
 * The listing reads LISTSTATUS_BATCH pages in HDFS order and re-emits entries in S3 order
 * through a small heap. An entry may leave the heap once no name still to come can sort
 * before it: every name after `n` in signed order sorts after the part of `n` before its
 * first non-ASCII byte in UTF-8 order (the watermark). With ASCII names the heap holds only
 * folders waiting for their "/" position; names with non-ASCII characters are held until
 * the listing passes the ASCII names that S3 puts before them.
 *
 * `seekPast` computes where the next LISTSTATUS_BATCH may start (its `startAfter`) when a
 * page ended with names that all sort at or before the S3 `startAfter`, without skipping any
 * name that S3 would list after it.
 */

/** Guava SignedBytes.lexicographicalComparator. */
export function compareSigned(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = (a[i] << 24) >> 24;
    const y = (b[i] << 24) >> 24;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

export const compareSignedNames = (a: string, b: string): number => compareSigned(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

/** The bytes of `name` before its first non-ASCII byte. */
export function watermarkOf(name: string): Buffer {
  const bytes = Buffer.from(name, 'utf8');
  const cut = bytes.findIndex((b) => b >= 0x80);
  return cut < 0 ? bytes : bytes.subarray(0, cut);
}

interface Seek {
  /** startAfter for the next LISTSTATUS_BATCH. */
  startAfter: string;
  /** A name that startAfter skips but S3 may list (as a folder): look it up with GETFILESTATUS. */
  probe?: string;
}

/**
 * `last` is the last name of a page and sorts before `lower` (the S3 startAfter relative to
 * the directory) in UTF-8 order. Returns a later startAfter when whole runs of names are
 * known to sort before `lower`:
 * - `last` and `lower` first differ at byte k, both ASCII or both not, `last` smaller: every
 *   remaining name with the prefix lower[0..k] and a smaller byte at k sorts before `lower`,
 *   so the next page starts after lower[0..k] (extended to the end of its UTF-8 character);
 * - `last` has an ASCII byte where `lower` has a non-ASCII one: every remaining name with
 *   the prefix lower[0..k) and an ASCII byte at k sorts before `lower`; HDFS lists them after
 *   the non-ASCII ones, so the next page starts after all of them.
 */
export function seekPast(last: string, lower: string): Seek | undefined {
  const y = Buffer.from(last, 'utf8');
  const s = Buffer.from(lower, 'utf8');
  let k = 0;
  while (k < y.length && k < s.length && y[k] === s[k]) k++;
  if (k === y.length || k === s.length) return undefined;
  const a = y[k];
  const b = s[k];
  if (a > b) return undefined;
  if ((a < 0x80) === (b < 0x80)) {
    let end = k + 1;
    while (end < s.length && (s[end] & 0xc0) === 0x80) end++;
    const startAfter = s.subarray(0, end).toString('utf8');
    // startAfter skips the name `startAfter` itself; as a folder it sorts as "startAfter/",
    // which S3 may list after `lower` when the next byte of lower is "/" or smaller.
    const probe = !startAfter.includes('/') && (end === s.length || s[end] <= 0x2f) ? startAfter : undefined;
    return { startAfter, probe };
  }
  // Names are at most 255 bytes: 256 DEL characters sort after every name with this prefix
  // and an ASCII byte at k.
  return { startAfter: s.subarray(0, k).toString('utf8') + '\u007f'.repeat(256) };
}

/** A binary min-heap. */
export class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.compare(items[i], items[parent]) >= 0) break;
      [items[i], items[parent]] = [items[parent], items[i]];
      i = parent;
    }
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && this.compare(items[l], items[m]) < 0) m = l;
        if (r < items.length && this.compare(items[r], items[m]) < 0) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m], items[i]];
        i = m;
      }
    }
    return top;
  }
}
