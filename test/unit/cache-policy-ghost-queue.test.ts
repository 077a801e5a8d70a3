import { GhostQueue } from '../../src/cache/policy/ghost-queue';

describe('GhostQueue', () => {
  test('keeps the youngest entries within its byte bound', () => {
    const g = new GhostQueue(100, 1000);
    for (let h = 1; h <= 20; h++) g.add(h, 10);
    expect(g.bytes).toBe(100);
    expect(g.size).toBe(10);
    for (let h = 1; h <= 10; h++) expect(g.has(h)).toBe(false);
    for (let h = 11; h <= 20; h++) expect(g.has(h)).toBe(true);
  });

  test('keeps at most maxEntries live entries', () => {
    const g = new GhostQueue(Number.MAX_SAFE_INTEGER, 16, 4);
    for (let h = 0; h < 100; h++) {
      g.add(h, 1);
      expect(g.size).toBeLessThanOrEqual(16);
    }
    expect(g.size).toBe(16);
    expect(g.has(99)).toBe(true);
    expect(g.has(83)).toBe(false);
  });

  test('take() removes one entry and reports whether it was there', () => {
    const g = new GhostQueue(1000, 100);
    g.add(7, 30);
    g.add(8, 20);
    expect(g.take(7)).toBe(true);
    expect(g.take(7)).toBe(false);
    expect(g.has(8)).toBe(true);
    expect(g.bytes).toBe(20);
    expect(g.size).toBe(1);
  });

  test('adding a present hash moves it to the young end (it outlives older entries)', () => {
    const g = new GhostQueue(30, 100);
    g.add(1, 10);
    g.add(2, 10);
    g.add(3, 10);
    g.add(1, 10); // 1 is young again
    g.add(4, 10); // drops the oldest live entry: 2
    expect(g.has(1)).toBe(true);
    expect(g.has(2)).toBe(false);
    expect(g.bytes).toBe(30);
  });

  test('an entry larger than the byte bound is not kept', () => {
    const g = new GhostQueue(10, 100);
    g.add(1, 11);
    expect(g.size).toBe(0);
  });

  test('growing the ring keeps order and live entries, tombstones included', () => {
    const g = new GhostQueue(Number.MAX_SAFE_INTEGER, 1 << 12, 2);
    for (let h = 0; h < 1000; h++) {
      g.add(h, 1);
      if (h % 3 === 0) g.take(h);
    }
    const live = Array.from({ length: 1000 }, (_, h) => h).filter((h) => h % 3 !== 0);
    expect(g.size).toBe(live.length);
    expect(live.filter((h) => !g.has(h))).toEqual([]);
  });

  test('setMaxBytes() shrinks by forgetting the oldest; clear() forgets all', () => {
    const g = new GhostQueue(100, 100);
    for (let h = 0; h < 10; h++) g.add(h, 10);
    g.setMaxBytes(30);
    expect(g.size).toBe(3);
    expect(g.has(9)).toBe(true);
    expect(g.has(6)).toBe(false);
    g.clear();
    expect(g.size).toBe(0);
    expect(g.bytes).toBe(0);
    g.add(1, 10);
    expect(g.has(1)).toBe(true);
  });

  test('rejects a bad entry bound', () => {
    expect(() => new GhostQueue(10, 0)).toThrow(RangeError);
  });
});
