import { buildRing, hash32 } from '../../src/cluster/ring';
import { RingShares } from '../../src/cluster/ring-shares';

const keys = (n: number, prefix = 'bucket/key-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const nodes = (n: number) => Array.from({ length: n }, (_, i) => `node-${i}`);

function shares(ring: ReturnType<typeof buildRing>, sample: string[]): Map<string, number> {
  const count = new Map<string, number>(ring.members.map((m) => [m, 0]));
  for (const k of sample) {
    const owner = ring.owner(k) as string;
    count.set(owner, (count.get(owner) ?? 0) + 1);
  }
  return count;
}

/** The lookup as it was first written (every member scored, sorted, sliced): the selection must pick exactly the same. */
function referenceOwners(ids: string[], key: string, n: number): string[] {
  const fmix32 = (input: number): number => {
    let h = input;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  const k = hash32(key);
  return [...new Set(ids)]
    .sort()
    .map((id) => ({ id, s: fmix32((k ^ hash32(`node:${id}`)) + 0x9e3779b9) }))
    .sort((a, b) => b.s - a.s || (a.id < b.id ? -1 : 1))
    .slice(0, n)
    .map((e) => e.id);
}

describe('ring', () => {
  test('selection without sorting picks exactly what scoring and sorting every member picks (n = 1, 2, 3, 7)', () => {
    // Kept small: Math.imul runs unoptimised inside jest's vm context (about 40x slower than in node).
    for (const size of [1, 2, 3, 4, 9, 33, 100]) {
      const ids = nodes(size);
      const ring = buildRing(ids);
      for (const k of keys(size > 9 ? 150 : 500, `s${size}/`)) {
        for (const n of [1, 2, 3, 7]) expect(ring.owners(k, n)).toEqual(referenceOwners(ids, k, n));
        expect(ring.owner(k)).toBe(referenceOwners(ids, k, 1)[0]);
      }
    }
  });

  test('the shares of the ring view are sampled in slices between event-loop turns, the even share meanwhile', async () => {
    const ring = buildRing(nodes(50));
    const shares = new RingShares(ring, 5000);
    expect(shares.sampled).toBe(false);
    expect(shares.shareOf('node-3')).toBeCloseTo(1 / 50);
    let turns = 0;
    const counting = setInterval(() => turns++, 0);
    await shares.settled();
    clearInterval(counting);
    expect(shares.sampled).toBe(true);
    const total = ring.members.reduce((sum, id) => sum + shares.shareOf(id), 0);
    expect(total).toBeCloseTo(1);
    expect(shares.shareOf('not-a-member')).toBe(0);
    expect(new RingShares(buildRing(['solo'])).shareOf('solo')).toBe(1);
  });

  test('is a pure function of the member set: order and duplicates do not matter', () => {
    const a = buildRing(['c', 'a', 'b']);
    const b = buildRing(['b', 'c', 'a', 'a']);
    expect(a.members).toEqual(['a', 'b', 'c']);
    for (const k of keys(1000)) expect(a.owners(k, 3)).toEqual(b.owners(k, 3));
  });

  test('owners(key, n) is the owner then distinct successors', () => {
    const ring = buildRing(nodes(5));
    for (const k of keys(200)) {
      const o = ring.owners(k, 3);
      expect(o).toHaveLength(3);
      expect(new Set(o).size).toBe(3);
      expect(o[0]).toBe(ring.owner(k));
    }
    expect(ring.owners('x', 10)).toHaveLength(5);
    expect(buildRing([]).owner('x')).toBeUndefined();
  });

  test('100-node simulation: max/mean owned share <= 1.10', () => {
    const ring = buildRing(nodes(100));
    const sample = keys(200_000);
    const count = shares(ring, sample);
    const mean = sample.length / 100;
    const max = Math.max(...count.values());
    expect(max / mean).toBeLessThanOrEqual(1.1);
    expect(Math.min(...count.values()) / mean).toBeGreaterThanOrEqual(0.9);
  });

  test('adding one node to 100 moves <= 1.1/N of the keys, all of them to the new node', () => {
    const before = buildRing(nodes(100));
    const after = buildRing([...nodes(100), 'node-new']);
    const sample = keys(200_000, 'other/');
    let moved = 0;
    let movedElsewhere = 0;
    for (const k of sample) {
      const b = after.owner(k);
      if (before.owner(k) !== b) {
        moved++;
        if (b !== 'node-new') movedElsewhere++;
      }
    }
    expect(movedElsewhere).toBe(0);
    expect(moved / sample.length).toBeLessThanOrEqual(1.1 / 101);
    expect(moved / sample.length).toBeGreaterThan(0.5 / 101);
  });

  test('removing a node moves only its keys, to their next owner', () => {
    const all = buildRing(nodes(10));
    const without = buildRing(nodes(10).filter((n) => n !== 'node-3'));
    let wrong = 0;
    for (const k of keys(20_000)) {
      const [first, second] = all.owners(k, 2);
      if (without.owner(k) !== (first === 'node-3' ? second : first)) wrong++;
    }
    expect(wrong).toBe(0);
  });

  test('hash32 spreads similar strings', () => {
    const seen = new Set(keys(10_000).map(hash32));
    expect(seen.size).toBeGreaterThan(9_990);
  });
});
