import { buildRing, hash32 } from '../../src/cluster/ring';

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

describe('ring', () => {
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
