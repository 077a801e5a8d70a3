/**
 * Everything the policy simulator replays a trace against, and the replay of one trace
 * case against all of them.
 */
import { S3Fifo } from '../../src/cache/policy/s3-fifo';
import type { TraceCase } from '../traces/catalog';
import { toPages, type PageTrace } from '../traces/pages';
import { ArcPolicy } from './arc';
import { runBelady } from './belady';
import { LruPolicy } from './lru';
import { countHits, replay, type ReplayResult } from './replay';
import { SievePolicy } from './sieve';
import { ExclusiveTiers, GatedTier, InclusiveTiers, SingleTier, UnifiedTiers, type SimCache } from './tiers';
import { WTinyLfuPolicy } from './w-tinylfu';

export interface CaseSetting {
  memoryBytes: number;
  diskBytes: number;
  /** Mean size of a page of this trace (sizes W-TinyLFU's sketch: maxBytes / mean). */
  meanPageBytes: number;
  sizeOf: (page: number) => number;
}

export interface Contender {
  /** Row label. */
  name: string;
  /** 'policy': one policy over memory + disk bytes; 'tiers': a two-tier arrangement; 'rule': an admission rule in front of a policy. */
  kind: 'policy' | 'tiers' | 'rule';
  make(setting: CaseSetting): SimCache;
}

export const CONTENDERS: Contender[] = [
  { name: 'LRU', kind: 'policy', make: (s) => new SingleTier('LRU', new LruPolicy(total(s))) },
  { name: 'S3-FIFO', kind: 'policy', make: (s) => new SingleTier('S3-FIFO', new S3Fifo({ maxBytes: total(s) })) },
  {
    name: 'W-TinyLFU',
    kind: 'policy',
    make: (s) => new SingleTier('W-TinyLFU', new WTinyLfuPolicy({ maxBytes: total(s), expectedEntries: Math.ceil(total(s) / s.meanPageBytes) })),
  },
  { name: 'SIEVE', kind: 'policy', make: (s) => new SingleTier('SIEVE', new SievePolicy(total(s))) },
  { name: 'ARC', kind: 'policy', make: (s) => new SingleTier('ARC', new ArcPolicy(total(s))) },
  {
    name: 'tiers: inclusive LRU+LRU (before #18)',
    kind: 'tiers',
    make: (s) => new InclusiveTiers('inclusive LRU', new LruPolicy(s.memoryBytes), new LruPolicy(s.diskBytes)),
  },
  {
    name: 'tiers: exclusive LRU+LRU',
    kind: 'tiers',
    make: (s) => new ExclusiveTiers('exclusive LRU', new LruPolicy(s.memoryBytes), new LruPolicy(s.diskBytes), s.sizeOf),
  },
  {
    name: 'tiers: exclusive, S3-FIFO in each tier',
    kind: 'tiers',
    make: (s) =>
      new ExclusiveTiers('exclusive S3-FIFO', new S3Fifo({ maxBytes: s.memoryBytes }), new S3Fifo({ maxBytes: s.diskBytes }), s.sizeOf),
  },
  {
    name: 'tiers: one S3-FIFO over both, memory = LRU placement',
    kind: 'tiers',
    make: (s) => new UnifiedTiers('unified S3-FIFO', new S3Fifo({ maxBytes: total(s) }), s.memoryBytes, s.sizeOf),
  },
  {
    name: 'tiers: one S3-FIFO over both, demote only main-queue pages',
    kind: 'tiers',
    make: (s) => {
      const policy = new S3Fifo<number>({ maxBytes: total(s) });
      return new UnifiedTiers('unified S3-FIFO, demote main', policy, s.memoryBytes, s.sizeOf, policy);
    },
  },
  {
    name: 'tiers: one W-TinyLFU over both, memory = LRU placement',
    kind: 'tiers',
    make: (s) =>
      new UnifiedTiers(
        'unified W-TinyLFU',
        new WTinyLfuPolicy({ maxBytes: total(s), expectedEntries: Math.ceil(total(s) / s.meanPageBytes) }),
        s.memoryBytes,
        s.sizeOf,
      ),
  },
  {
    name: 'S3-FIFO + cache after the 2nd read',
    kind: 'rule',
    make: (s) => new GatedTier('S3-FIFO min-uses 2', new S3Fifo({ maxBytes: total(s) }), { minUses: 2 }),
  },
];

export const BELADY_NAME = 'Belady (furthest next use)';

export interface CaseResult {
  name: string;
  description: string;
  pageSize: number;
  memoryBytes: number;
  diskBytes: number;
  requests: number;
  pageRequests: number;
  distinctPages: number;
  footprintBytes: number;
  rows: (ReplayResult & { kind: Contender['kind'] | 'offline'; diskWriteRatio?: number })[];
}

/** Replays one trace case against every contender and Belady. */
export function runCase(tc: TraceCase, pageSize: number, contenders: Contender[] = CONTENDERS): CaseResult {
  const pages = toPages(tc.trace, pageSize);
  const footprintBytes = sum(pages.pageSize);
  const setting: CaseSetting = {
    memoryBytes: tc.memoryBytes,
    diskBytes: tc.diskBytes,
    meanPageBytes: Math.max(1, footprintBytes / Math.max(1, pages.distinctPages)),
    sizeOf: (page) => pages.pageSize[page],
  };
  const rows: CaseResult['rows'] = contenders.map((c) => {
    const cache = c.make(setting);
    const result = replay(cache, pages);
    return { ...result, name: c.name, kind: c.kind, ...(cache.diskWriteBytes !== undefined ? { diskWriteRatio: cache.diskWriteBytes / result.bytes } : {}) };
  });
  rows.push({ ...belady(pages, tc.memoryBytes + tc.diskBytes), kind: 'offline' });
  return {
    name: tc.trace.name,
    description: tc.trace.description,
    pageSize,
    memoryBytes: tc.memoryBytes,
    diskBytes: tc.diskBytes,
    requests: tc.trace.requests.length,
    pageRequests: pages.pages.length,
    distinctPages: pages.distinctPages,
    footprintBytes,
    rows,
  };
}

function belady(pages: PageTrace, maxBytes: number): ReplayResult {
  return countHits(BELADY_NAME, pages, runBelady(pages, maxBytes).hits);
}

function total(s: CaseSetting): number {
  return s.memoryBytes + s.diskBytes;
}

function sum(values: Float64Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s;
}
