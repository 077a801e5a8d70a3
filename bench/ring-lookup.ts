/**
 * Owner lookup cost (issue #13): what `ring.owners(key, 2)` (the owner and its successor, as
 * the request router asks) and `ring.owner(key)` cost at 100 and 1000 members, against the
 * previous implementation (score every member, sort, slice), and the longest event-loop stall
 * while the ring view's shares are sampled after a ring change.
 *
 *   npm run bench:ring          # = npm run build --silent && node dist/bench/ring-lookup.js
 *
 * Each figure is the median of BENCH_ROUNDS rounds of BENCH_LOOKUPS lookups over distinct keys
 * (after a warm-up round), in nanoseconds per lookup. Exit code 0 (a benchmark).
 */
import { performance } from 'node:perf_hooks';
import { hash32, buildRing, type Ring } from '../src/cluster/ring';
import { RingShares } from '../src/cluster/ring-shares';

const num = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
const ROUNDS = num('BENCH_ROUNDS', 7);
const LOOKUPS = num('BENCH_LOOKUPS', 20_000);
const SIZES = (process.env.BENCH_MEMBERS ?? '100,1000').split(',').map(Number);

/** The lookup before issue #13: every member scored, the array sorted, the first n kept. */
function sortingOwners(ids: string[]): (key: string, n: number) => string[] {
  const fmix32 = (input: number): number => {
    let h = input;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
  };
  const members = [...ids].sort().map((id) => ({ id, seed: hash32(`node:${id}`) }));
  return (key, n) => {
    const k = hash32(key);
    return members
      .map((m) => ({ id: m.id, s: fmix32((k ^ m.seed) + 0x9e3779b9) }))
      .sort((a, b) => b.s - a.s || (a.id < b.id ? -1 : 1))
      .slice(0, n)
      .map((e) => e.id);
  };
}

function nsPerLookup(lookup: (key: string) => unknown, keys: string[]): number {
  const times: number[] = [];
  let sink = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const started = performance.now();
    for (const key of keys) sink += (lookup(key) as unknown[] | string).length;
    const ns = ((performance.now() - started) * 1e6) / keys.length;
    if (round > 0) times.push(ns); // round 0 warms the JIT
  }
  if (sink < 0) console.log(sink);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

async function longestStall(ring: Ring): Promise<{ stallMs: number; totalMs: number }> {
  let longest = 0;
  let last = performance.now();
  let running = true;
  const tick = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  const started = performance.now();
  setImmediate(tick);
  const shares = new RingShares(ring);
  await shares.settled();
  running = false;
  return { stallMs: longest, totalMs: performance.now() - started };
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${ROUNDS} rounds of ${LOOKUPS} lookups (median), ns per lookup`);
  console.log('members  owners(k,2)  owner(k)  sort-based owners(k,2)  share sampling: longest stall / total');
  for (const size of SIZES) {
    const ids = Array.from({ length: size }, (_, i) => `node-${i}`);
    const ring = buildRing(ids);
    const old = sortingOwners(ids);
    const keys = Array.from({ length: LOOKUPS }, (_, i) => `bucket/some/key-${i}`);
    for (const key of keys.slice(0, 1000)) {
      const a = ring.owners(key, 2).join();
      if (a !== old(key, 2).join()) throw new Error(`owners differ for ${key}`);
    }
    const two = nsPerLookup((k) => ring.owners(k, 2), keys);
    const one = nsPerLookup((k) => ring.owner(k) as string, keys);
    const sorted = nsPerLookup((k) => old(k, 2), size >= 1000 ? keys.slice(0, LOOKUPS / 10) : keys);
    const { stallMs, totalMs } = await longestStall(ring);
    console.log(`${String(size).padStart(7)}  ${two.toFixed(0).padStart(11)}  ${one.toFixed(0).padStart(8)}  ${sorted.toFixed(0).padStart(22)}  ${stallMs.toFixed(1)} ms / ${totalMs.toFixed(0)} ms`);
  }
}

void main();
