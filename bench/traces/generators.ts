/**
 * Seeded, deterministic trace generators: each is a pure function of its options (same
 * options and seed, same trace, on any machine). Objects are numbered densely; the most
 * popular object of a Zipf draw is not object 0 but a random one (a seeded permutation), so
 * popularity is independent of id, size and position in a scan.
 */
import { Prng, ZipfSampler } from './prng';
import type { Trace } from './trace';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface ZipfOptions {
  /** Number of distinct objects. */
  objects: number;
  /** Zipf exponent: 0.6 (flat), 0.9 (typical web/CDN), 1.2 (very skewed). */
  skew: number;
  /** Number of requests. */
  requests: number;
  /** Size of every object (bytes), or a function of the object id. */
  objectSize: number | ((id: number, prng: Prng) => number);
  seed: number;
}

/** Independent Zipf draws over `objects` objects. */
export function zipfTrace(o: ZipfOptions): Trace {
  const prng = new Prng(o.seed);
  const objectSize = sizes(o.objects, o.objectSize, prng);
  const rankToId = prng.shuffle(Int32Array.from({ length: o.objects }, (_, i) => i));
  const zipf = new ZipfSampler(o.objects, o.skew);
  const requests = new Int32Array(o.requests);
  for (let i = 0; i < o.requests; i++) requests[i] = rankToId[zipf.sample(prng)];
  return {
    name: `zipf-${o.skew}`,
    description: `Zipf ${o.skew} over ${o.objects} objects, ${o.requests} requests`,
    objectSize,
    requests,
  };
}

export interface ShiftingOptions extends ZipfOptions {
  /** Requests per phase; each phase ranks the same objects in a new random order. */
  phaseLength: number;
}

/**
 * Zipf requests whose popularity ranking changes completely every phase (yesterday's hot
 * partitions go cold, others become hot): a policy that trusts long-term frequency adapts
 * late, one that trusts recency adapts at once.
 */
export function shiftingZipfTrace(o: ShiftingOptions): Trace {
  const prng = new Prng(o.seed);
  const objectSize = sizes(o.objects, o.objectSize, prng);
  const rankToId = Int32Array.from({ length: o.objects }, (_, i) => i);
  const zipf = new ZipfSampler(o.objects, o.skew);
  const requests = new Int32Array(o.requests);
  for (let i = 0; i < o.requests; i++) {
    if (i % o.phaseLength === 0) prng.shuffle(rankToId);
    requests[i] = rankToId[zipf.sample(prng)];
  }
  return {
    name: `shifting-zipf`,
    description: `Zipf ${o.skew} over ${o.objects} objects, ranked anew every ${o.phaseLength} requests, ${o.requests} requests`,
    objectSize,
    requests,
  };
}

export interface ScanOptions extends ZipfOptions {
  /** A scan starts after every `every` Zipf requests... */
  every: number;
  /** ...and reads this many cold objects once each, in order. */
  scanLength: number;
  /** 'fresh': every scan reads objects never read before (a new cold partition each time); 'same': every scan reads the same cold objects. */
  scanObjects: 'fresh' | 'same';
}

/**
 * Zipf requests interleaved with periodic one-pass scans of cold objects, as a Spark job
 * reading a cold partition: after every `every` Zipf requests, `scanLength` requests read
 * cold objects (ids above the Zipf range) one after the other. `requests` counts the Zipf
 * requests only; the trace has requests * (1 + scanLength / every) in all.
 */
export function zipfScanTrace(o: ScanOptions): Trace {
  const prng = new Prng(o.seed);
  const scans = Math.floor(o.requests / o.every);
  const coldObjects = o.scanObjects === 'fresh' ? scans * o.scanLength : o.scanLength;
  const hotSizes = sizes(o.objects, o.objectSize, prng);
  const coldSizes = sizes(coldObjects, o.objectSize, prng);
  const objectSize = new Float64Array(o.objects + coldObjects);
  objectSize.set(hotSizes);
  objectSize.set(coldSizes, o.objects);
  const rankToId = prng.shuffle(Int32Array.from({ length: o.objects }, (_, i) => i));
  const zipf = new ZipfSampler(o.objects, o.skew);
  const requests = new Int32Array(o.requests + scans * o.scanLength);
  let n = 0;
  let nextCold = o.objects;
  for (let i = 1; i <= o.requests; i++) {
    requests[n++] = rankToId[zipf.sample(prng)];
    if (i % o.every === 0) {
      const first = o.scanObjects === 'fresh' ? nextCold : o.objects;
      for (let k = 0; k < o.scanLength; k++) requests[n++] = first + k;
      nextCold += o.scanLength;
    }
  }
  return {
    name: `zipf-${o.skew}+scan`,
    description: `Zipf ${o.skew} over ${o.objects} objects; after every ${o.every} requests a one-pass scan of ${o.scanLength} ${o.scanObjects === 'fresh' ? 'new' : 'same'} cold objects`,
    objectSize,
    requests,
  };
}

export interface LoopOptions {
  /** Objects in the loop (a working set slightly larger than the cache makes LRU miss every time). */
  objects: number;
  requests: number;
  objectSize: number;
  /** Share of requests (0..1) that are Zipf draws over the same objects instead of the next loop step. */
  zipfShare?: number;
  seed: number;
}

/** A working set read cyclically, in the same order every pass (an iterative job re-reading its input). */
export function loopTrace(o: LoopOptions): Trace {
  const prng = new Prng(o.seed);
  const order = prng.shuffle(Int32Array.from({ length: o.objects }, (_, i) => i));
  const zipf = new ZipfSampler(o.objects, 0.9);
  const zipfShare = o.zipfShare ?? 0;
  const requests = new Int32Array(o.requests);
  let step = 0;
  for (let i = 0; i < o.requests; i++) {
    if (zipfShare > 0 && prng.next() < zipfShare) requests[i] = order[zipf.sample(prng)];
    else requests[i] = order[step++ % o.objects];
  }
  return {
    name: zipfShare > 0 ? 'loop+zipf' : 'loop',
    description: `a loop over ${o.objects} objects${zipfShare > 0 ? ` with ${Math.round(zipfShare * 100)}% Zipf 0.9 requests mixed in` : ''}, ${o.requests} requests`,
    objectSize: new Float64Array(o.objects).fill(o.objectSize),
    requests,
  };
}

export interface OneHitWonderOptions extends ZipfOptions {
  /** Share of requests (0..1) for an object that is read once and never again. */
  oneHitShare: number;
}

/** Zipf requests mixed with requests for objects read exactly once (the one-hit wonders of CDN and object-store traces). */
export function oneHitWonderTrace(o: OneHitWonderOptions): Trace {
  const prng = new Prng(o.seed);
  const zipf = new ZipfSampler(o.objects, o.skew);
  const rankToId = prng.shuffle(Int32Array.from({ length: o.objects }, (_, i) => i));
  const requests = new Int32Array(o.requests);
  let nextOneHit = o.objects;
  for (let i = 0; i < o.requests; i++) requests[i] = prng.next() < o.oneHitShare ? nextOneHit++ : rankToId[zipf.sample(prng)];
  const objectSize = sizes(nextOneHit, o.objectSize, prng);
  return {
    name: `one-hit-wonders`,
    description: `${Math.round(o.oneHitShare * 100)}% of requests read an object once and never again, the rest Zipf ${o.skew} over ${o.objects} objects`,
    objectSize,
    requests,
  };
}

/** A size mix of an analytics bucket: many small files, some large ones, a few very large. */
export function mixedObjectSize(_id: number, prng: Prng): number {
  const u = prng.next();
  if (u < 0.4) return 4 * KiB + prng.int(60 * KiB); //       40%: 4-64 KiB (small files, manifests)
  if (u < 0.7) return 64 * KiB + prng.int(960 * KiB); //     30%: 64 KiB-1 MiB
  if (u < 0.95) return 1 * MiB + prng.int(7 * MiB); //       25%: 1-8 MiB
  return 8 * MiB + prng.int(24 * MiB); //                      5%: 8-32 MiB
}

export interface MixedOptions extends ZipfOptions {
  /** Share of requests (0..1) that read a range of `rangeBytes` at a random offset instead of the whole object. */
  rangeShare: number;
  rangeBytes: number;
}

/** Zipf requests over objects of mixed sizes, some of them ranged reads (column chunks, footers). */
export function mixedSizeTrace(o: MixedOptions): Trace {
  const base = zipfTrace(o);
  const prng = new Prng(o.seed ^ 0x5bd1e995);
  const rangeStart = new Float64Array(base.requests.length).fill(-1);
  const rangeEnd = new Float64Array(base.requests.length).fill(-1);
  for (let i = 0; i < base.requests.length; i++) {
    const size = base.objectSize[base.requests[i]];
    if (size <= o.rangeBytes || prng.next() >= o.rangeShare) continue;
    // Footers are popular: a third of ranged reads take the object's last bytes.
    const start = prng.next() < 1 / 3 ? size - o.rangeBytes : prng.int(size - o.rangeBytes + 1);
    rangeStart[i] = start;
    rangeEnd[i] = start + o.rangeBytes;
  }
  return {
    ...base,
    name: 'mixed-sizes',
    description: `Zipf ${o.skew} over ${o.objects} objects of 4 KiB-32 MiB, ${Math.round(o.rangeShare * 100)}% of reads of large objects ranged (${o.rangeBytes / KiB} KiB)`,
    rangeStart,
    rangeEnd,
  };
}

function sizes(count: number, objectSize: number | ((id: number, prng: Prng) => number), prng: Prng): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = typeof objectSize === 'number' ? objectSize : objectSize(i, prng);
  return out;
}
