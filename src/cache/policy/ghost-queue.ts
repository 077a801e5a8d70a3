/**
 * A FIFO of recently evicted keys, kept as 32-bit hashes with the size they had: the
 * "ghost" queue of S3-FIFO (and of ARC). A key found here was evicted recently, so it is
 * being re-read: the policy admits it straight to its main queue.
 *
 * Bounded twice: the sizes of the entries sum to at most `maxBytes` (the paper keeps as
 * many ghosts as the main queue holds objects; in bytes, the main queue's budget), and
 * there are at most `maxEntries` entries (a hard bound on memory for tiny objects). Memory:
 * a ring of (hash, size) pairs (12 bytes each, grown by doubling up to maxEntries) plus a
 * Map from hash to the entry's position (small-integer keys, about 30 bytes each).
 *
 * take() removes an entry from the middle: its ring slot becomes a tombstone that the ring
 * skips when it reaches it. Every operation is O(1) amortised.
 */
export class GhostQueue {
  private hashes: Int32Array;
  private sizes: Float64Array;
  /** hash -> absolute position (sequence number) of its live entry in the ring. */
  private readonly positions = new Map<number, number>();
  /** Absolute positions: the oldest entry still in the ring, and the next one to write. */
  private head = 0;
  private tail = 0;
  private liveBytes = 0;

  constructor(
    private maxBytes: number,
    readonly maxEntries: number,
    initialEntries = 64,
  ) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError(`ghost maxEntries must be a positive integer, got ${maxEntries}`);
    const capacity = Math.min(maxEntries, Math.max(1, initialEntries));
    this.hashes = new Int32Array(capacity);
    this.sizes = new Float64Array(capacity);
  }

  /** Live entries. */
  get size(): number {
    return this.positions.size;
  }

  get bytes(): number {
    return this.liveBytes;
  }

  /** Changes the byte bound (forgets the oldest entries if it shrank). */
  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.trim();
  }

  /** Records an evicted key; a key already present moves to the young end. */
  add(hash: number, size: number): void {
    if (size > this.maxBytes) return;
    this.take(hash);
    if (this.tail - this.head === this.hashes.length) {
      if (this.hashes.length < this.maxEntries) this.grow();
      else this.dropOldest();
    }
    const slot = this.tail % this.hashes.length;
    this.hashes[slot] = hash;
    this.sizes[slot] = size;
    this.positions.set(hash, this.tail);
    this.tail++;
    this.liveBytes += size;
    this.trim();
  }

  /** Whether the hash is a live ghost, without removing it. */
  has(hash: number): boolean {
    return this.positions.has(hash);
  }

  /** Removes the entry if present; returns whether it was. */
  take(hash: number): boolean {
    const position = this.positions.get(hash);
    if (position === undefined) return false;
    this.positions.delete(hash);
    const slot = position % this.hashes.length;
    this.liveBytes -= this.sizes[slot];
    this.sizes[slot] = -1; // tombstone
    return true;
  }

  clear(): void {
    this.positions.clear();
    this.head = 0;
    this.tail = 0;
    this.liveBytes = 0;
  }

  private trim(): void {
    while (this.liveBytes > this.maxBytes && this.head < this.tail) this.dropOldest();
  }

  /** Drops the ring's oldest slot (live or tombstone). */
  private dropOldest(): void {
    const slot = this.head % this.hashes.length;
    const size = this.sizes[slot];
    if (size >= 0) {
      this.positions.delete(this.hashes[slot]);
      this.liveBytes -= size;
    }
    this.head++;
  }

  private grow(): void {
    const capacity = Math.min(this.maxEntries, this.hashes.length * 2);
    const hashes = new Int32Array(capacity);
    const sizes = new Float64Array(capacity);
    const count = this.tail - this.head;
    for (let i = 0; i < count; i++) {
      const from = (this.head + i) % this.hashes.length;
      const to = (this.head + i) % capacity;
      hashes[to] = this.hashes[from];
      sizes[to] = this.sizes[from];
    }
    this.hashes = hashes;
    this.sizes = sizes;
  }
}
