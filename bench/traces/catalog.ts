/**
 * The benchmark's standard traces, each with the cache it is replayed against. Requests
 * scale with `scale` (1 = the published run; the unit test uses a small one).
 */
import { loopTrace, mixedObjectSize, mixedSizeTrace, oneHitWonderTrace, shiftingZipfTrace, zipfScanTrace, zipfTrace } from './generators';
import type { Trace } from './trace';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface TraceCase {
  trace: Trace;
  /** Memory tier and disk tier budgets (bytes); the cache is their sum. */
  memoryBytes: number;
  diskBytes: number;
}

/** The setting: 64 KiB objects, memory 16 MiB + disk 48 MiB = room for 1,024 objects. */
const SMALL_CACHE = { memoryBytes: 16 * MiB, diskBytes: 48 * MiB };

export function standardTraces(scale = 1, seed = 1): TraceCase[] {
  const n = (count: number): number => Math.max(1, Math.round(count * scale));
  const base = { objects: 4000, objectSize: 64 * KiB, seed };
  return [
    { trace: zipfTrace({ ...base, skew: 0.6, requests: n(240_000) }), ...SMALL_CACHE },
    { trace: zipfTrace({ ...base, skew: 0.9, requests: n(240_000) }), ...SMALL_CACHE },
    { trace: zipfTrace({ ...base, skew: 1.2, requests: n(240_000) }), ...SMALL_CACHE },
    {
      trace: zipfScanTrace({ ...base, skew: 0.9, requests: n(240_000), every: 6000, scanLength: 1500, scanObjects: 'fresh' }),
      ...SMALL_CACHE,
    },
    { trace: shiftingZipfTrace({ ...base, skew: 0.9, requests: n(240_000), phaseLength: n(40_000) }), ...SMALL_CACHE },
    { trace: loopTrace({ objects: 1200, objectSize: 64 * KiB, requests: n(240_000), seed }), ...SMALL_CACHE },
    { trace: oneHitWonderTrace({ ...base, skew: 0.9, requests: n(240_000), oneHitShare: 0.5 }), ...SMALL_CACHE },
    {
      trace: mixedSizeTrace({ objects: 2000, skew: 0.9, requests: n(60_000), objectSize: mixedObjectSize, seed, rangeShare: 0.3, rangeBytes: 256 * KiB }),
      memoryBytes: 128 * MiB,
      diskBytes: 384 * MiB,
    },
  ];
}
