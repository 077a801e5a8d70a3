/**
 * What the chosen policy costs per operation and per entry, beside the structures the tiers
 * use today (lru-cache in the memory tier, a Map in recency order in the disk tier), on
 * gateway-shaped keys: `<40 hex digits>/<8 hex digits>` page keys, Zipf 0.9 requests.
 *
 * One operation is what a tier does per page lookup: access(key), and on a miss
 * admit(key, size, victims) (for lru-cache: get, then set on a miss). The keys are built
 * before timing, so the loop allocates nothing of its own.
 *
 * Each measurement runs in a fresh `node --expose-gc` process (this file is also the child's
 * entry point), subjects interleaved round by round: subjects measured one after the other
 * in one process share JIT feedback (the call sites turn polymorphic) and inherit the
 * simulator's garbage, which moved the figures by 2-5x on a loaded machine.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { LRUCache } from 'lru-cache';
import { GhostQueue } from '../../src/cache/policy/ghost-queue';
import { S3Fifo } from '../../src/cache/policy/s3-fifo';
import type { EvictionPolicy } from '../../src/cache/policy/types';
import { Prng, ZipfSampler } from '../traces/prng';
import { LruPolicy } from './lru';

interface CostOptions {
  /** Distinct page keys. */
  keys: number;
  /** Cache capacity as a share of the keys. */
  capacityShare: number;
  /** Timed operations per round (after a warm-up of the same length). */
  operations: number;
  rounds: number;
  seed: number;
}

interface CostRow {
  name: string;
  /** Fastest round's ns per lookup-or-fill (the least disturbed by other load). */
  nsPerOp: number;
  /** Fastest round's ns per access() of a resident key. */
  nsPerHit: number;
  hitRatio: number;
  /** Heap bytes per resident entry beyond the key string itself. */
  bytesPerEntry: number;
}

interface Sample {
  nsPerOp: number;
  nsPerHit: number;
  hitRatio: number;
  bytesPerEntry: number;
}

const PAGE = 1024 * 1024;

interface Cache {
  lookup(key: string): boolean;
  fill(key: string, victims: string[]): void;
  has(key: string): boolean;
  size(): number;
}

interface Subject {
  name: string;
  make(maxBytes: number): Cache;
}

const SUBJECTS: Subject[] = [
  {
    name: 'S3Fifo (src/cache/policy)',
    make: (maxBytes) => policySubject(new S3Fifo<string>({ maxBytes })),
  },
  {
    name: 'lru-cache (memory tier before #18)',
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
    name: 'Map in recency order (disk tier before #18)',
    make: (maxBytes) => policySubject(new LruPolicy<string>(maxBytes)),
  },
];

function policySubject(policy: EvictionPolicy<string>): Cache {
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

function pageKeys(count: number, prng: Prng): string[] {
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

/**
 * Runs every subject `rounds` times, each run in a child process. Times are the fastest
 * round's (on a shared machine other load only ever adds time); bytes are the median.
 */
export function measureCost(o: CostOptions): CostRow[] {
  const samples: Sample[][] = SUBJECTS.map(() => []);
  for (let round = 0; round < o.rounds; round++) {
    for (let s = 0; s < SUBJECTS.length; s++) {
      const out = execFileSync(process.execPath, ['--expose-gc', __filename, String(s), JSON.stringify(o)], { encoding: 'utf8', timeout: 300_000 });
      samples[s].push(JSON.parse(out) as Sample);
    }
  }
  return SUBJECTS.map((subject, s) => ({
    name: subject.name,
    nsPerOp: Math.min(...samples[s].map((x) => x.nsPerOp)),
    nsPerHit: Math.min(...samples[s].map((x) => x.nsPerHit)),
    hitRatio: samples[s][0].hitRatio,
    bytesPerEntry: median(samples[s].map((x) => x.bytesPerEntry)),
  }));
}

/** One measurement of one subject, in this (fresh) process. */
function measureOne(subject: Subject, o: CostOptions, gc: () => void): Sample {
  const prng = new Prng(o.seed);
  const keys = pageKeys(o.keys, prng);
  const zipf = new ZipfSampler(o.keys, 0.9);
  const sequence = new Int32Array(o.operations * 2);
  for (let i = 0; i < sequence.length; i++) sequence[i] = zipf.sample(prng);
  const cache = subject.make(Math.floor(o.keys * o.capacityShare) * PAGE);
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
  gc();
  const start = performance.now();
  run(o.operations, 2 * o.operations);
  const nsPerOp = ((performance.now() - start) * 1e6) / o.operations;
  const hitRatio = hits / o.operations;
  // Hits only: lookups of resident keys (a lookup never evicts, so they stay resident).
  const resident = keys.filter((key) => cache.has(key)).slice(0, 4096);
  if (resident.length < 4096) throw new Error(`${subject.name}: only ${resident.length} resident keys`);
  let found = 0;
  gc();
  const hitStart = performance.now();
  for (let i = 0; i < o.operations; i++) if (cache.lookup(resident[(i * 2654435761) & 4095])) found++;
  const nsPerHit = ((performance.now() - hitStart) * 1e6) / o.operations;
  if (found !== o.operations) throw new Error(`${subject.name}: ${o.operations - found} lookups of resident keys missed`);
  return { nsPerOp, nsPerHit, hitRatio, bytesPerEntry: bytesPerEntry(subject, keys, gc) };
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

/** Heap bytes per ghost entry (S3-FIFO keeps about as many as its main queue holds); run in a child. */
export function ghostBytesPerEntry(entries: number): number {
  const out = execFileSync(process.execPath, ['--expose-gc', __filename, 'ghost', String(entries)], { encoding: 'utf8', timeout: 60_000 });
  return Number(out);
}

function measureGhost(entries: number, gc: () => void): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const ghost = new GhostQueue(Number.MAX_SAFE_INTEGER, entries);
  for (let i = 0; i < entries; i++) ghost.add((Math.imul(i, 0x9e3779b1) >>> 0) & 0x3fffffff, PAGE);
  gc();
  const after = process.memoryUsage().heapUsed;
  if (ghost.size !== entries) throw new Error(`ghost holds ${ghost.size} entries, expected ${entries}`);
  return (after - before) / entries;
}

function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

if (require.main === module) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const [what, arg] = process.argv.slice(2);
  if (what === 'ghost') process.stdout.write(String(measureGhost(Number(arg), gc)));
  else process.stdout.write(JSON.stringify(measureOne(SUBJECTS[Number(what)], JSON.parse(arg) as CostOptions, gc)));
}
