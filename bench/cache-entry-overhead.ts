/**
 * Measures what the cache's bookkeeping costs on the heap, per entry, and compares it with what
 * the memory budget charges (src/cache/memory-accounting.ts).
 *
 *   npm run build && node dist/bench/cache-entry-overhead.js
 *
 * Each structure is built with N entries in a fresh `node --expose-gc` process (this file is
 * also the child's entry point): heap used after a full GC, minus before, divided by N. Hash
 * tables grow by doubling, so the figure per entry moves with N by up to 30% (lowest just
 * before a table grows); N = 100,000 (the default, BENCH_ENTRIES) is mid-way for all of them. What
 * the entries need that exists before (the page keys of the memory tier's pages, for one) is
 * built before the first measurement; what the cache alone keeps alive is built inside it.
 *
 *   page item      a page held by the memory tier: its item, Map entry, PageLookup, and the
 *                  Buffer and ArrayBuffer objects (the data itself is outside the heap)
 *   tracked page   a page the policy keeps: its S3-FIFO slot, Map entry and key string
 *   disk entry     a page on disk: the disk tier's Map entry and index record
 *   ghost          an S3-FIFO ghost (hash and size)
 *   metadata, ...  a metadata entry held in memory, of three shapes (estimate per entry)
 */
import { execFileSync } from 'node:child_process';
import { MemoryTier } from '../src/cache/memory-tier';
import {
  DISK_ENTRY_HEAP_BYTES,
  GHOST_ENTRY_HEAP_BYTES,
  metadataEntryHeapBytes,
  PAGE_ITEM_HEAP_BYTES,
  TRACKED_PAGE_HEAP_BYTES,
} from '../src/cache/memory-accounting';
import { MetadataCache, type MetadataEntry } from '../src/cache/metadata-cache';
import { GhostQueue } from '../src/cache/policy/ghost-queue';
import { S3Fifo } from '../src/cache/policy/s3-fifo';
import type { MetadataRecord, MetadataStore } from '../src/cache/types';
import type { ObjectInfo } from '../ufs-adapters/types';

export const KINDS = ['page item', 'tracked page', 'disk entry', 'ghost', 'metadata: minimal', 'metadata: typical', 'metadata: not found'] as const;
export type Kind = (typeof KINDS)[number];

export interface Measurement {
  kind: Kind;
  /** Measured heap bytes per entry. */
  measured: number;
  /** What the memory budget charges per entry (the mean, for metadata). */
  charged: number;
}

const hex = (i: number, width: number): string => i.toString(16).padStart(width, '0');
const pageKey = (i: number): string => `${hex(i * 2654435761, 32).slice(-32)}/${hex(i & 0xffff, 8)}`;

/** A metadata store that persists nothing: only what the memory tier holds is measured. */
const nowhere: MetadataStore = {
  getMeta: () => undefined,
  putMeta: () => undefined,
  deleteMeta: () => undefined,
  deleteMetaPrefix: async () => 0,
  scanMeta: () => [] as Iterable<[string, MetadataRecord]>,
};

function objectInfo(kind: Kind, i: number): ObjectInfo | null {
  if (kind === 'metadata: not found') return null;
  const key = kind === 'metadata: minimal' ? `k/${i}` : `warehouse/events/date=2026-05-${hex(i % 28, 2)}/part-${hex(i, 5)}-c000.snappy.parquet`;
  const info: ObjectInfo = { key, size: 1000 + i, etag: `"${hex(i * 40503, 32).slice(-32)}"`, lastModified: new Date(1_700_000_000_000 + i), userMetadata: {} };
  if (kind === 'metadata: typical') {
    // Values parsed from each store answer are strings of their own (names are interned by V8).
    info.contentType = ['application', 'octet-stream'].join('/');
    info.userMetadata = { 'spark-version': ['3', '5', '1'].join('.'), writer: `job-${i % 97}` };
  }
  return info;
}

/** Builds `n` entries of `kind` and returns heap bytes per entry, with what the budget charges. */
export function measure(kind: Kind, n: number, gc: () => void): Measurement {
  const keys = kind === 'page item' || kind === 'disk entry' ? Array.from({ length: n }, (_, i) => pageKey(i)) : [];
  const held: unknown[] = [];
  gc();
  const before = process.memoryUsage().heapUsed;
  let charged = 0;
  if (kind === 'page item') {
    const memory = new MemoryTier(Number.MAX_SAFE_INTEGER);
    for (let i = 0; i < n; i++) memory.placePage(keys[i] as string, Buffer.allocUnsafeSlow(64));
    held.push(memory);
    charged = PAGE_ITEM_HEAP_BYTES;
  } else if (kind === 'tracked page') {
    const policy = new S3Fifo<string>({ maxBytes: Number.MAX_SAFE_INTEGER, maxGhostEntries: 1 });
    for (let i = 0; i < n; i++) policy.admit(pageKey(i), 1);
    held.push(policy);
    charged = TRACKED_PAGE_HEAP_BYTES;
  } else if (kind === 'disk entry') {
    // The disk tier's accounting: a Map from the page key to { size, lastAccess } (a fractional stamp).
    const entries = new Map<string, { size: number; lastAccess: number }>();
    for (let i = 0; i < n; i++) entries.set(keys[i] as string, { size: 65536, lastAccess: 1_700_000_000_000 + i + 0.001 });
    held.push(entries);
    charged = DISK_ENTRY_HEAP_BYTES;
  } else if (kind === 'ghost') {
    const ghost = new GhostQueue(Number.MAX_SAFE_INTEGER, n);
    for (let i = 0; i < n; i++) ghost.add((Math.imul(i, 0x9e3779b1) >>> 0) & 0x3fffffff, 65536);
    held.push(ghost);
    charged = GHOST_ENTRY_HEAP_BYTES;
  } else {
    const memory = new MemoryTier(Number.MAX_SAFE_INTEGER, { maxMetadataEntries: n });
    const cache = new MetadataCache(nowhere, memory, () => undefined);
    for (let i = 0; i < n; i++) cache.set(`0123456789abcdef:${objectInfo(kind, i)?.key ?? `missing/${i}`}`, objectInfo(kind, i), 1_700_000_000_000 + i);
    for (const [key, entry] of memory.metaEntries()) charged += metadataEntryHeapBytes(key, entry as MetadataEntry);
    charged /= n;
    held.push(memory, cache);
  }
  gc();
  const after = process.memoryUsage().heapUsed;
  if (held.length === 0) throw new Error('nothing measured');
  return { kind, measured: (after - before) / n, charged };
}

/** Runs `measure` in a fresh `node --expose-gc` process (the heap of this one is not clean). */
export function measureInChild(kind: Kind, n: number, execArgv: string[] = [__filename]): Measurement {
  const out = execFileSync(process.execPath, ['--expose-gc', ...execArgv, kind, String(n)], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out) as Measurement;
}

function main(): void {
  const n = Number(process.env.BENCH_ENTRIES ?? 100_000);
  console.log(`Heap bytes per entry: ${n.toLocaleString('en-US')} entries each, a fresh node --expose-gc process per row (node ${process.version}, ${process.arch})\n`);
  const rows = KINDS.map((kind) => measureInChild(kind, n));
  const width = Math.max(...KINDS.map((k) => k.length));
  console.log(`${'structure'.padEnd(width)} | measured | charged | charged / measured`);
  console.log(`${'-'.repeat(width)}-|----------|---------|-------------------`);
  for (const r of rows) console.log(`${r.kind.padEnd(width)} | ${r.measured.toFixed(0).padStart(8)} | ${r.charged.toFixed(0).padStart(7)} | ${(r.charged / r.measured).toFixed(2).padStart(18)}`);
}

if (require.main === module) {
  const [kind, n] = process.argv.slice(2);
  if (kind === undefined) main();
  else {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with node --expose-gc');
    if (!(KINDS as readonly string[]).includes(kind)) throw new Error(`unknown kind ${kind}; one of ${KINDS.join(', ')}`);
    process.stdout.write(JSON.stringify(measure(kind as Kind, Number(n), gc)));
  }
}
