/**
 * Offline cache-policy simulator (issue #18): replays traces against LRU, S3-FIFO,
 * W-TinyLFU, SIEVE, ARC, the gateway's two-tier arrangements and Belady's furthest-next-use
 * heuristic, all byte-budgeted over the same pages, and prints byte and object hit ratios;
 * then what the chosen policy's implementation costs per operation and per entry.
 *
 *   npm run bench:policy                      # build, then the standard traces
 *   BENCH_TRACE=access.jsonl BENCH_MEMORY_MIB=512 BENCH_DISK_MIB=10240 npm run bench:policy
 *
 * Settings (environment):
 *   BENCH_PAGE_SIZE   page size in bytes (default 1048576, the gateway's), or "object" to
 *                     cache whole objects
 *   BENCH_TRACES      comma-separated names of standard traces to run (default: all)
 *   BENCH_SCALE       request-count multiplier for the standard traces (default 1)
 *   BENCH_SEED        seed of the generated traces (default 1)
 *   BENCH_TRACE       a JSONL trace file to replay instead (format: bench/README.md)
 *   BENCH_MEMORY_MIB, BENCH_DISK_MIB   the tiers for BENCH_TRACE (default 16 and 48)
 *   BENCH_SKETCH      0 skips the W-TinyLFU sketch-size sensitivity table
 *   BENCH_COST        0 skips the per-operation cost measurement
 *   BENCH_COST_OPS    timed operations per round of the cost measurement (default 1000000)
 *
 * Exit code 0 (a benchmark); 1 on a bad setting or trace file.
 */
import os from 'node:os';
import { standardTraces, type TraceCase } from './traces/catalog';
import { readTraceFile } from './traces/trace';
import { fmt, table } from './lib/numbers';
import { BELADY_NAME, runCase, type CaseResult, type Contender } from './sim/contenders';
import { SingleTier } from './sim/tiers';
import { WTinyLfuPolicy } from './sim/w-tinylfu';
import { ghostBytesPerEntry, measureCost } from './sim/policy-cost';

const MiB = 1024 * 1024;

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return value;
};

/** The issue's offline figures for the Zipf 0.9 + scan trace, for comparison. */
const ISSUE_FIGURES: Record<string, number> = {
  LRU: 0.515,
  'S3-FIFO': 0.578,
  [BELADY_NAME]: 0.656,
  'tiers: inclusive LRU+LRU (before #18)': 0.481,
};

async function main(): Promise<void> {
  const pageSizeSetting = process.env.BENCH_PAGE_SIZE ?? String(MiB);
  const pageSize = pageSizeSetting === 'object' ? Number.POSITIVE_INFINITY : num('BENCH_PAGE_SIZE', MiB);
  if (!(pageSize > 0)) throw new Error('BENCH_PAGE_SIZE must be > 0 or "object"');
  const cases = await traceCases();
  const results: CaseResult[] = [];
  for (const tc of cases) {
    const started = Date.now();
    const result = runCase(tc, pageSize);
    results.push(result);
    printCase(result, Date.now() - started);
  }
  printSummary(results);
  if (!process.env.BENCH_TRACE && num('BENCH_SKETCH', 1) !== 0) printSketchSensitivity(cases, pageSize);
  if (num('BENCH_COST', 1) !== 0) printCost();
}

async function traceCases(): Promise<TraceCase[]> {
  const file = process.env.BENCH_TRACE;
  if (file) {
    const trace = await readTraceFile(file);
    return [{ trace, memoryBytes: Math.round(num('BENCH_MEMORY_MIB', 16) * MiB), diskBytes: Math.round(num('BENCH_DISK_MIB', 48) * MiB) }];
  }
  const all = standardTraces(num('BENCH_SCALE', 1), num('BENCH_SEED', 1));
  const wanted = process.env.BENCH_TRACES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!wanted) return all;
  const unknown = wanted.filter((w) => !all.some((tc) => tc.trace.name === w));
  if (unknown.length > 0) throw new Error(`unknown trace(s) ${unknown.join(', ')}; standard traces: ${all.map((tc) => tc.trace.name).join(', ')}`);
  return all.filter((tc) => wanted.includes(tc.trace.name));
}

function printCase(r: CaseResult, ms: number): void {
  const pageLabel = Number.isFinite(r.pageSize) ? `${fmt(r.pageSize / 1024)} KiB pages` : 'whole objects';
  console.log(`\n## ${r.name}: ${r.description}`);
  console.log(
    `${fmt(r.requests)} requests -> ${fmt(r.pageRequests)} page requests over ${fmt(r.distinctPages)} distinct ${pageLabel} ` +
      `(${fmt(r.footprintBytes / MiB)} MiB); cache ${fmt(r.memoryBytes / MiB)} MiB memory + ${fmt(r.diskBytes / MiB)} MiB disk; ${fmt(ms)} ms\n`,
  );
  const lru = r.rows.find((row) => row.name === 'LRU')?.byteHitRatio ?? Number.NaN;
  const issue = r.name === 'zipf-0.9+scan' && Number.isFinite(r.pageSize) && r.memoryBytes === 16 * MiB;
  const headers = ['policy / arrangement', 'byte hit', 'object hit', 'vs LRU', 'memory hit', 'disk writes'];
  if (issue) headers.push('issue #18');
  const rows = r.rows.map((row) => {
    const cells = [
      row.name,
      fmt(row.byteHitRatio, 3),
      fmt(row.objectHitRatio, 3),
      lru > 0 ? `${row.byteHitRatio >= lru ? '+' : ''}${fmt((row.byteHitRatio / lru - 1) * 100, 1)}%` : 'n/a',
      row.kind === 'tiers' ? fmt(row.memoryByteRatio, 3) : '',
      row.diskWriteRatio !== undefined ? fmt(row.diskWriteRatio, 3) : '',
    ];
    if (issue) cells.push(ISSUE_FIGURES[row.name] !== undefined ? fmt(ISSUE_FIGURES[row.name], 3) : '');
    return cells;
  });
  console.log(table(headers, rows));
}

function printSummary(results: CaseResult[]): void {
  if (results.length < 2) return;
  console.log('\n## Byte hit ratio by trace (best online policy in each column marked *)\n');
  const names = results[0].rows.map((row) => row.name);
  const best = results.map((r) => Math.max(...r.rows.filter((row) => row.kind === 'policy').map((row) => row.byteHitRatio)));
  const rows = names.map((name) => [
    name,
    ...results.map((r, i) => {
      const row = r.rows.find((x) => x.name === name);
      if (!row) return '';
      return `${fmt(row.byteHitRatio, 3)}${row.kind === 'policy' && row.byteHitRatio === best[i] ? '*' : ''}`;
    }),
  ]);
  console.log(table(['policy / arrangement', ...results.map((r) => r.name)], rows));
  console.log('\n"memory hit": share of requested bytes served from the memory tier. "disk writes": bytes written');
  console.log('to the disk tier / bytes requested. Belady for mixed sizes is the furthest-next-use heuristic.');
}

/**
 * W-TinyLFU's count-min sketch is sized from the number of entries the cache will hold
 * (Caffeine: its maximum size). A page cache with mixed page sizes does not know that
 * number; this shows what a sketch 8x too small or too large does on four traces.
 */
function printSketchSensitivity(cases: TraceCase[], pageSize: number): void {
  const names = ['zipf-0.9+scan', 'shifting-zipf', 'loop', 'one-hit-wonders'];
  const picked = cases.filter((tc) => names.includes(tc.trace.name));
  if (picked.length === 0) return;
  const factors = [1 / 8, 1, 8];
  const contenders: Contender[] = factors.map((f) => ({
    name: `W-TinyLFU, sketch for ${f < 1 ? `1/${1 / f}` : f} x the entries`,
    kind: 'policy',
    make: (s) => {
      const maxBytes = s.memoryBytes + s.diskBytes;
      return new SingleTier('w', new WTinyLfuPolicy({ maxBytes, expectedEntries: Math.max(1, Math.ceil((f * maxBytes) / s.meanPageBytes)) }));
    },
  }));
  const results = picked.map((tc) => runCase(tc, pageSize, contenders));
  console.log('\n## W-TinyLFU: byte hit ratio against the size of its frequency sketch\n');
  const rows = contenders.map((c) => [c.name, ...results.map((r) => fmt(r.rows.find((row) => row.name === c.name)!.byteHitRatio, 3))]);
  console.log(table(['sketch', ...results.map((r) => r.name)], rows));
}

function printCost(): void {
  const operations = Math.round(num('BENCH_COST_OPS', 1_000_000));
  console.log(`\n## Per-operation cost: 100,000 page keys, capacity 25,000 pages, Zipf 0.9, ${fmt(operations)} timed operations, best of 5 rounds (a fresh process each)\n`);
  const rows = measureCost({ keys: 100_000, capacityShare: 0.25, operations, rounds: 5, seed: 7 });
  console.log(
    table(
      ['structure', 'ns/op (lookup, fill on miss)', 'ns/hit', 'hit ratio', 'heap bytes/entry'],
      rows.map((row) => [row.name, fmt(row.nsPerOp, 0), fmt(row.nsPerHit, 0), fmt(row.hitRatio, 3), fmt(row.bytesPerEntry, 0)]),
    ),
  );
  console.log(`\nLoad average ${fmt(os.loadavg()[0], 1)} on ${os.cpus().length} CPUs at the end of the measurement (other load only adds time).`);
  console.log(`S3-FIFO ghost entry: ${fmt(ghostBytesPerEntry(100_000), 0)} heap bytes (hash + size; no key string kept).`);
  console.log('Heap bytes/entry exclude the key string (built before measuring); the tiers hold it anyway.');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
