/**
 * What the chosen policy costs per operation and per entry, beside the structures the tiers
 * use today (lru-cache in the memory tier, a Map in recency order in the disk tier), on
 * gateway-shaped keys: `<40 hex digits>/<8 hex digits>` page keys, Zipf 0.9 requests.
 *
 * One operation is what a tier does per page lookup: access(key), and on a miss
 * admit(key, size, victims) (for lru-cache: get, then set on a miss). The keys are built
 * before timing, so the loop allocates nothing of its own.
 */
import { performance } from 'node:perf_hooks';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { LRUCache } from 'lru-cache';
import { GhostQueue } from '../../src/cache/policy/ghost-queue';
import { S3Fifo } from '../../src/cache/policy/s3-fifo';
import type { EvictionPolicy } from '../../src/cache/policy/types';
import { Prng, ZipfSampler } from '../traces/prng';
import { LruPolicy } from './lru';

export interface CostOptions {
  /** Distinct page keys. */
  keys: number;
  /** Cache capacity as a share of the keys. */
  capacityShare: number;
  /** Timed operations per round (after a warm-up of the same length). */
  operations: number;
  rounds: number;
  seed: number;
}

export interface CostRow {
  name: string;
  /** Median ns per lookup-or-fill over the rounds. */
  nsPerOp: number;
  /** Median ns per access() of a resident key. */
  nsPerHit: number;
  hitRatio: number;
  /** Heap bytes per resident entry beyond the key string itself (NaN without a GC hook). */
  bytesPerEntry: number;
}

const PAGE = 1024 * 1024;

interface Subject {
  name: string;
  make(maxBytes: number): { lookup(key: string): boolean; fill(key: string, victims: string[]): void; has(key: string): boolean; size(): number };
}

const SUBJECTS: Subject[] = [
  {
    name: 'S3Fifo (src/cache/policy)',
    make: (maxBytes) => policySubject(new S3Fifo<string>({ maxBytes })),
  },
  {
    name: 'lru-cache (memory tier today)',
    make: (maxBytes) => {
      const cache = new LRUCache<string, number>({ maxSize: maxBytes, sizeCalculation: (v) => v });
      return {
        lookup: (key) => cache.get(key) !== undefined,
        fill: (key) => void cache.set(key, PAGE),
        has: (key) => cache.has(key),
        size: () => cache.size,
      };
    },
  },
  {
    name: 'Map in recency order (disk tier today)',
    make: (maxBytes) => policySubject(new LruPolicy<string>(maxBytes)),
  },
];

function policySubject(policy: EvictionPolicy<string>): ReturnType<Subject['make']> {
  return {
    lookup: (key) => policy.access(key),
    fill: (key, victims) => {
      victims.length = 0;
      policy.admit(key, PAGE, victims);
    },
    has: (key) => policy.has(key),
    size: () => policy.size,
  };
}

export function pageKeys(count: number, prng: Prng): string[] {
  const keys: string[] = [];
  let objectId = '';
  for (let i = 0; i < count; i++) {
    if (i % 8 === 0) {
      objectId = '';
      for (let k = 0; k < 5; k++) objectId += prng.nextUint32().toString(16).padStart(8, '0');
    }
    keys.push(`${objectId}/${(i % 8).toString(16).padStart(8, '0')}`);
  }
  return keys;
}

export function measureCost(o: CostOptions): CostRow[] {
  const prng = new Prng(o.seed);
  const keys = pageKeys(o.keys, prng);
  const zipf = new ZipfSampler(o.keys, 0.9);
  const sequence = new Int32Array(o.operations * 2);
  for (let i = 0; i < sequence.length; i++) sequence[i] = zipf.sample(prng);
  const maxBytes = Math.floor(o.keys * o.capacityShare) * PAGE;
  const gc = exposeGc();
  return SUBJECTS.map((subject) => {
    const perOp: number[] = [];
    const perHit: number[] = [];
    let hitRatio = 0;
    for (let round = 0; round < o.rounds; round++) {
      const cache = subject.make(maxBytes);
      const victims: string[] = [];
      let hits = 0;
      const run = (from: number, to: number): void => {
        for (let i = from; i < to; i++) {
          const key = keys[sequence[i]];
          if (cache.lookup(key)) hits++;
          else cache.fill(key, victims);
        }
      };
      run(0, o.operations); // warm-up: fills the cache, lets the JIT settle
      hits = 0;
      const start = performance.now();
      run(o.operations, 2 * o.operations);
      perOp.push(((performance.now() - start) * 1e6) / o.operations);
      hitRatio = hits / o.operations;
      // Hits only: lookups of resident keys (a lookup never evicts, so they stay resident).
      const resident = keys.filter((key) => cache.has(key)).slice(0, 4096);
      const mask = 4095;
      let found = 0;
      const hitStart = performance.now();
      for (let i = 0; i < o.operations; i++) if (cache.lookup(resident[(i * 2654435761) & mask] ?? resident[0])) found++;
      perHit.push(((performance.now() - hitStart) * 1e6) / o.operations);
      if (found !== o.operations) throw new Error(`${subject.name}: ${o.operations - found} lookups of resident keys missed`);
    }
    return { name: subject.name, nsPerOp: median(perOp), nsPerHit: median(perHit), hitRatio, bytesPerEntry: gc ? bytesPerEntry(subject, keys, gc) : Number.NaN };
  });
}

/** Heap growth per resident entry when `keys` (already allocated) are all made resident. */
function bytesPerEntry(subject: Subject, keys: string[], gc: () => void): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = subject.make(keys.length * PAGE);
  const victims: string[] = [];
  for (const key of keys) cache.fill(key, victims);
  gc();
  const after = process.memoryUsage().heapUsed;
  const entries = cache.size();
  if (entries !== keys.length) throw new Error(`${subject.name}: ${entries} entries resident, expected ${keys.length}`);
  return (after - before) / entries;
}

/** Heap bytes per ghost entry (S3-FIFO keeps as many as its main queue holds). */
export function ghostBytesPerEntry(entries: number): number {
  const gc = exposeGc();
  if (!gc) return Number.NaN;
  gc();
  const before = process.memoryUsage().heapUsed;
  const ghost = new GhostQueue(Number.MAX_SAFE_INTEGER, entries);
  for (let i = 0; i < entries; i++) ghost.add(Math.imul(i, 0x9e3779b1), PAGE);
  gc();
  const after = process.memoryUsage().heapUsed;
  if (ghost.size !== entries) throw new Error(`ghost holds ${ghost.size} entries, expected ${entries}`);
  return (after - before) / entries;
}

/** A full GC hook: global.gc when node runs with --expose-gc, else one made by flipping the flag. */
function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
