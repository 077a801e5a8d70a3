import fc from 'fast-check';
import { S3Fifo } from '../../src/cache/policy/s3-fifo';

const KiB = 1024;
const identity = (k: number): number => k;

/** Admits a key if it misses, records an access if it hits; returns whether it hit. */
function read(p: S3Fifo<number>, key: number, size: number, evicted?: number[]): boolean {
  if (p.access(key)) return true;
  p.admit(key, size, evicted);
  return false;
}

describe('S3Fifo', () => {
  test('admits up to the byte budget, then evicts; reported victims are no longer resident', () => {
    const p = new S3Fifo<number>({ maxBytes: 10 * KiB });
    const evicted: number[] = [];
    for (let k = 0; k < 10; k++) expect(p.admit(k, KiB, evicted)).toBe(true);
    expect(evicted).toEqual([]);
    expect(p.bytes).toBe(10 * KiB);
    expect(p.size).toBe(10);
    expect(p.admit(10, KiB, evicted)).toBe(true);
    expect(evicted).toHaveLength(1);
    expect(p.has(evicted[0])).toBe(false);
    expect(p.bytes).toBe(10 * KiB);
  });

  test('refuses a key that is resident or larger than the budget, without evicting', () => {
    const p = new S3Fifo<string>({ maxBytes: 100 });
    expect(p.admit('a', 60)).toBe(true);
    const evicted: string[] = [];
    expect(p.admit('a', 10, evicted)).toBe(false);
    expect(p.admit('huge', 101, evicted)).toBe(false);
    expect(evicted).toEqual([]);
    expect(p.bytes).toBe(60);
    // A key as large as the whole budget is admitted (everything else goes).
    expect(p.admit('whole', 100, evicted)).toBe(true);
    expect(evicted).toEqual(['a']);
    expect([...p.keys()]).toEqual(['whole']);
  });

  test('access() of a missing key records nothing and returns false', () => {
    const p = new S3Fifo<string>({ maxBytes: 100 });
    expect(p.access('nope')).toBe(false);
    expect(p.size).toBe(0);
  });

  test('a one-pass scan does not flush the hot set', () => {
    // 100 hot keys read repeatedly, then a scan of 10,000 cold keys, twice: every hot key is
    // still resident afterwards (LRU would have none of them).
    const p = new S3Fifo<number>({ maxBytes: 200 * KiB, hash: identity });
    const hot = Array.from({ length: 100 }, (_, i) => i);
    for (let round = 0; round < 3; round++) for (const k of hot) read(p, k, KiB);
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < 10_000; k++) read(p, 1_000_000 + pass * 10_000 + k, KiB);
      for (const k of hot) expect(p.has(k)).toBe(true);
      for (const k of hot) read(p, k, KiB);
    }
    const stats = p.stats();
    expect(stats.smallBytes + stats.mainBytes).toBe(p.bytes);
    expect(p.bytes).toBeLessThanOrEqual(200 * KiB);
  });

  test('a key read again while in the small queue moves to main when it reaches the end of small', () => {
    const p = new S3Fifo<number>({ maxBytes: 100, smallRatio: 0.1, hash: identity });
    p.admit(1, 10);
    p.access(1);
    for (let k = 2; k < 12; k++) p.admit(k, 10); // pushes 1 out of small
    expect(p.has(1)).toBe(true);
    expect(p.stats().mainKeys).toBeGreaterThanOrEqual(1);
  });

  test('a key evicted from small unread becomes a ghost; its next admission goes straight to main', () => {
    const p = new S3Fifo<number>({ maxBytes: 100, smallRatio: 0.1, hash: identity });
    const evicted: number[] = [];
    for (let k = 0; k < 11; k++) p.admit(k, 10, evicted);
    expect(evicted).toEqual([0]);
    expect(p.isGhost(0)).toBe(true);
    expect(p.stats().ghostKeys).toBe(1);
    const mainBefore = p.stats().mainKeys;
    p.admit(0, 10);
    expect(p.isGhost(0)).toBe(false); // the ghost entry is consumed
    expect(p.stats().mainKeys).toBe(mainBefore + 1);
    expect(p.stats().smallKeys).toBeLessThan(p.size);
  });

  test('main gives each unit of frequency one more pass before evicting', () => {
    const p = new S3Fifo<number>({ maxBytes: 40, smallRatio: 0.25, hash: identity });
    // 0..2 restored into main (oldest first); 0 read 3 times, 1 and 2 never.
    for (const k of [0, 1, 2]) p.restore(k, 10);
    for (let i = 0; i < 3; i++) p.access(0);
    const evicted: number[] = [];
    p.admit(10, 10, evicted); // fills the budget: 0, 1, 2 in main, 10 in small
    expect(evicted).toEqual([]);
    p.admit(11, 10, evicted); // small is at its share: small's unread 10 goes (to the ghost)
    expect(evicted).toEqual([10]);
    evicted.length = 0;
    p.access(11);
    p.admit(12, 10, evicted); // 11 (read) moves to main, main over its share: 0 reinserted, 1 evicted
    expect(evicted).toEqual([1]);
    expect(p.has(0)).toBe(true);
  });

  test('remove() forgets a key without making it a ghost, in either queue', () => {
    const p = new S3Fifo<string>({ maxBytes: 100 });
    p.admit('small', 10);
    p.restore('main', 20);
    expect(p.remove('small')).toBe(true);
    expect(p.remove('main')).toBe(true);
    expect(p.remove('main')).toBe(false);
    expect(p.bytes).toBe(0);
    expect(p.size).toBe(0);
    expect(p.isGhost('small')).toBe(false);
    expect(p.stats()).toEqual({ smallBytes: 0, smallKeys: 0, mainBytes: 0, mainKeys: 0, ghostBytes: 0, ghostKeys: 0 });
    // The freed slots are reused.
    for (let i = 0; i < 5; i++) p.admit(`k${i}`, 10);
    expect(p.size).toBe(5);
  });

  test('evict() evicts a key now as its queue would: from small to the ghost, from main for good', () => {
    const p = new S3Fifo<string>({ maxBytes: 100 });
    p.admit('small', 10);
    p.restore('main', 20);
    expect(p.inSmall('small')).toBe(true);
    expect(p.inSmall('main')).toBe(false);
    expect(p.inSmall('nope')).toBe(false);
    expect(p.ghostSize).toBe(0);
    expect(p.evict('small')).toBe(true);
    expect(p.evict('main')).toBe(true);
    expect(p.evict('main')).toBe(false);
    expect(p.isGhost('small')).toBe(true);
    expect(p.isGhost('main')).toBe(false);
    expect(p.ghostSize).toBe(1);
    expect(p.bytes).toBe(0);
    p.admit('small', 10); // a ghost: straight to main
    expect(p.inSmall('small')).toBe(false);
    expect(p.ghostSize).toBe(0);
  });

  test('a page larger than the small share is still admitted and leaves first unless re-read', () => {
    const p = new S3Fifo<string>({ maxBytes: 1000, smallRatio: 0.1 });
    for (let i = 0; i < 9; i++) p.restore(`hot${i}`, 100);
    const evicted: string[] = [];
    p.admit('big', 300, evicted); // larger than small's 100 bytes
    expect(p.has('big')).toBe(true);
    expect(p.bytes).toBeLessThanOrEqual(1000);
    p.admit('next', 100, evicted);
    expect(evicted).toContain('big');
    expect(p.isGhost('big')).toBe(true);
  });

  test('trimTo() evicts in policy order down to the target (small down to its share, then main)', () => {
    const p = new S3Fifo<number>({ maxBytes: 100, smallRatio: 0.2, hash: identity });
    for (const k of [1, 2, 3, 4, 5]) p.restore(k, 10); // main
    for (const k of [6, 7]) p.admit(k, 10); // small
    const evicted: number[] = [];
    p.trimTo(40, evicted);
    // small holds 20 bytes = its share: its oldest unread key goes (to the ghost); then small
    // is under its share and main's oldest unread keys go.
    expect(evicted).toEqual([6, 1, 2]);
    expect(p.bytes).toBe(40);
    expect(p.isGhost(6)).toBe(true);
    expect(p.has(7)).toBe(true);
    p.trimTo(0, evicted);
    expect(p.size).toBe(0);
    expect(p.bytes).toBe(0);
  });

  test('clear() forgets keys and ghosts', () => {
    const p = new S3Fifo<number>({ maxBytes: 50, hash: identity });
    for (let k = 0; k < 20; k++) p.admit(k, 10);
    p.clear();
    expect(p.size).toBe(0);
    expect(p.bytes).toBe(0);
    expect([...p.keys()]).toEqual([]);
    expect(p.stats().ghostKeys).toBe(0);
    for (let k = 0; k < 5; k++) expect(p.admit(k, 10)).toBe(true);
    expect(p.bytes).toBe(50);
  });

  test('grows past its initial slot arrays and keeps every key', () => {
    const p = new S3Fifo<number>({ maxBytes: 10_000 });
    for (let k = 0; k < 10_000; k++) p.admit(k, 1);
    expect(p.size).toBe(10_000);
    const missing = Array.from({ length: 10_000 }, (_, k) => k).filter((k) => !p.has(k));
    expect(missing).toEqual([]);
  });

  test('rejects bad options', () => {
    expect(() => new S3Fifo({ maxBytes: -1 })).toThrow(RangeError);
    expect(() => new S3Fifo({ maxBytes: 1.5 })).toThrow(RangeError);
    expect(() => new S3Fifo({ maxBytes: 10, smallRatio: 0 })).toThrow(RangeError);
    expect(() => new S3Fifo({ maxBytes: 10, smallRatio: 1 })).toThrow(RangeError);
  });
});

/**
 * A direct transcription of the algorithm over plain arrays (index 0 = oldest), independent
 * of the slot arrays, free list and ring buffer of the real implementation.
 */
class ModelS3Fifo {
  small: { key: number; size: number; freq: number }[] = [];
  main: { key: number; size: number; freq: number }[] = [];
  ghost: { key: number; size: number }[] = [];
  readonly smallTarget: number;
  readonly ghostMax: number;

  constructor(
    readonly maxBytes: number,
    smallRatio: number,
    readonly threshold: number,
  ) {
    this.smallTarget = Math.floor(maxBytes * smallRatio);
    this.ghostMax = Math.floor(maxBytes * 0.9);
  }

  bytes(list: { size: number }[]): number {
    return list.reduce((a, e) => a + e.size, 0);
  }

  find(key: number): { key: number; size: number; freq: number } | undefined {
    return this.small.find((e) => e.key === key) ?? this.main.find((e) => e.key === key);
  }

  access(key: number): boolean {
    const e = this.find(key);
    if (!e) return false;
    e.freq = Math.min(3, e.freq + 1);
    return true;
  }

  admit(key: number, size: number, evicted: number[]): boolean {
    if (size > this.maxBytes || this.find(key)) return false;
    const g = this.ghost.findIndex((e) => e.key === key);
    if (g >= 0) this.ghost.splice(g, 1);
    while (this.bytes(this.small) + this.bytes(this.main) + size > this.maxBytes) {
      if (this.small.length > 0 && (this.bytes(this.small) >= this.smallTarget || this.main.length === 0)) this.evictSmall(evicted);
      else this.evictMain(evicted);
    }
    (g >= 0 ? this.main : this.small).push({ key, size, freq: 0 });
    return true;
  }

  remove(key: number): boolean {
    for (const list of [this.small, this.main]) {
      const i = list.findIndex((e) => e.key === key);
      if (i >= 0) {
        list.splice(i, 1);
        return true;
      }
    }
    return false;
  }

  evictSmall(evicted: number[]): void {
    while (this.small.length > 0) {
      const t = this.small.shift()!;
      if (t.freq >= this.threshold) {
        t.freq = 0;
        this.main.push(t);
        continue;
      }
      if (t.size <= this.ghostMax) {
        this.ghost.push({ key: t.key, size: t.size });
        while (this.bytes(this.ghost) > this.ghostMax) this.ghost.shift();
      }
      evicted.push(t.key);
      return;
    }
    this.evictMain(evicted);
  }

  evictMain(evicted: number[]): void {
    while (this.main.length > 0) {
      const t = this.main.shift()!;
      if (t.freq > 0) {
        t.freq--;
        this.main.push(t);
        continue;
      }
      evicted.push(t.key);
      return;
    }
  }
}

type Op = { kind: 'access'; key: number } | { kind: 'admit'; key: number; size: number } | { kind: 'remove'; key: number };

describe('S3Fifo against a reference model (property-based)', () => {
  const opArb = (keys: number, maxSize: number): fc.Arbitrary<Op> =>
    fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('access' as const), key: fc.nat(keys) }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('admit' as const), key: fc.nat(keys), size: fc.integer({ min: 0, max: maxSize }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), key: fc.nat(keys) }) },
    );

  test('same answers, same victims in the same order, same resident keys; bytes never over budget', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10, max: 400 }),
        fc.constantFrom(0.1, 0.25, 0.5),
        fc.constantFrom(1, 2),
        fc.array(opArb(40, 120), { minLength: 1, maxLength: 400 }),
        (maxBytes, smallRatio, threshold, ops) => {
          const real = new S3Fifo<number>({ maxBytes, smallRatio, moveToMainThreshold: threshold, hash: identity });
          const model = new ModelS3Fifo(maxBytes, smallRatio, threshold);
          for (const op of ops) {
            if (op.kind === 'access') expect(real.access(op.key)).toBe(model.access(op.key));
            else if (op.kind === 'remove') expect(real.remove(op.key)).toBe(model.remove(op.key));
            else {
              const a: number[] = [];
              const b: number[] = [];
              expect(real.admit(op.key, op.size, a)).toBe(model.admit(op.key, op.size, b));
              expect(a).toEqual(b);
            }
            expect(real.bytes).toBeLessThanOrEqual(maxBytes);
            expect(real.bytes).toBe(model.bytes(model.small) + model.bytes(model.main));
            expect(real.size).toBe(model.small.length + model.main.length);
            const stats = real.stats();
            expect(stats.smallKeys).toBe(model.small.length);
            expect(stats.ghostKeys).toBe(model.ghost.length);
            expect(stats.ghostBytes).toBe(model.bytes(model.ghost));
          }
          expect([...real.keys()].sort((x, y) => x - y)).toEqual([...model.small, ...model.main].map((e) => e.key).sort((x, y) => x - y));
        },
      ),
      { numRuns: 300 },
    );
  });
});
