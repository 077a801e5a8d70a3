/**
 * Trace replay through a running gateway (issue #18): the traces of bench/traces (or a JSONL
 * access log) are replayed as real GETs against a gateway whose mount is a folder of files of
 * the trace's object sizes; the store reads it makes are counted, and its byte and object hit
 * ratios are printed beside the offline simulation of LRU, the chosen policy (S3-FIFO), the
 * other policies tried and Belady's furthest-next-use, on the same trace and the same capacity.
 *
 *   npm run bench:replay                                   # build, then the standard traces (BENCH_SCALE 0.1)
 *   BENCH_SCALE=1 BENCH_TRACES=zipf-0.9+scan npm run bench:replay
 *   BENCH_TRACE=access.jsonl BENCH_MEMORY_MIB=512 BENCH_DISK_MIB=10240 npm run bench:replay
 *
 * The gateway is the real app in a child process (bench/lib/replay-gateway.ts: buildApp from a
 * config file, as `ringcache serve` runs it), its store adapter wrapped to count data reads.
 * Requests go one at a time, in trace order, over one keep-alive connection, unsigned (the
 * mount allows anonymous reads): the gateway sees the trace's exact order, as the simulator
 * does. After each response the driver asks the child how many store reads there have been: a
 * request that caused none was served entirely from the cache (object hit). At the end the
 * gateway's own counters (ringcache_ufs_reads_total, ringcache_cache_bytes_served_total{tier})
 * are read and printed with it.
 *
 * Objects are sparse files (no disk space, reads of zeros): obj-<id> in the bucket "trace"
 * (a JSONL log's bucket and key pairs are numbered the same way). Metadata is trusted for a day
 * (no revalidation during a run), so only page caching is measured.
 *
 * Settings (environment): BENCH_TRACES, BENCH_SCALE (default 0.1), BENCH_SEED, BENCH_TRACE,
 * BENCH_MEMORY_MIB / BENCH_DISK_MIB (for BENCH_TRACE; default 16 / 48), BENCH_PAGE_SIZE (default
 * 1048576), BENCH_TMPDIR, BENCH_KEEP_DATA=1. Exit code 0 whatever the verdicts (a benchmark); 1
 * on an error (an HTTP error, a body of the wrong length, a gateway that died).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, ftruncateSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { metricSum, scrapeMetrics } from './lib/metrics-scrape';
import { fmt, table } from './lib/numbers';
import type { FromGateway, GatewayStats, ReadCount, ToGateway } from './lib/replay-gateway';
import { BELADY_NAME, CONTENDERS, runCase, type CaseResult } from './sim/contenders';
import { standardTraces, type TraceCase } from './traces/catalog';
import { toPages } from './traces/pages';
import { readTraceFile, type Trace } from './traces/trace';

const MiB = 1024 * 1024;
const BUCKET = 'trace';
/** The child's entry point, compiled (from the sources, as under jest: the build's copy). */
const GATEWAY_ENTRY = __filename.endsWith('.ts') ? path.resolve(__dirname, '../dist/bench/lib/replay-gateway.js') : path.join(__dirname, 'lib/replay-gateway.js');
/** The offline rows: the policies tried (one policy over both budgets) and the tier arrangement the gateway runs. */
const ONLINE_POLICIES = ['LRU', 'S3-FIFO', 'W-TinyLFU', 'SIEVE', 'ARC'];
const OFFLINE_ROWS = [...ONLINE_POLICIES, 'tiers: one S3-FIFO over both, memory = LRU placement'];
/** Traces where the issue asks for the gateway to be within 5% of the best offline policy tried. */
const SCAN_AND_ONE_HIT = ['zipf-0.9+scan', 'one-hit-wonders'];

class ReplayError extends Error {}

const num = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new ReplayError(`${name} must be a non-negative number, got ${raw}`);
  return value;
};

const objectKey = (id: number): string => `obj-${id.toString().padStart(8, '0')}`;

export interface GatewayResult {
  requests: number;
  pageBytes: number;
  storeReads: number;
  storeBytes: number;
  objectHits: number;
  seconds: number;
  served: { memory: number; disk: number; ufs: number; peer: number };
  ufsReadsMetric: number;
  stats: GatewayStats;
}

/** A child gateway with a request/answer channel (one question at a time). */
class GatewayChild {
  private waiting: ((message: FromGateway) => void) | undefined;
  private exited: Promise<number | null>;
  url = '';

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: FromGateway) => {
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.(message);
    });
  }

  static async start(configFile: string): Promise<GatewayChild> {
    const child = fork(GATEWAY_ENTRY, [configFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const gateway = new GatewayChild(child);
    const ready = await gateway.next(30_000);
    if (ready.type !== 'ready') throw new ReplayError(`the gateway answered ${ready.type} before it was ready`);
    gateway.url = ready.url;
    return gateway;
  }

  private next(timeoutMs = 10_000): Promise<FromGateway> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new ReplayError(`the gateway did not answer in ${timeoutMs} ms`)), timeoutMs);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new ReplayError(`the gateway exited (code ${code})`));
      });
      this.waiting = (message) => {
        clearTimeout(timer);
        resolve(message);
      };
    });
  }

  async ask<T extends FromGateway['type']>(type: T & ToGateway['type']): Promise<Extract<FromGateway, { type: T }>> {
    const answer = this.next();
    this.child.send({ type } as ToGateway);
    const message = await answer;
    if (message.type !== type) throw new ReplayError(`asked ${type}, the gateway answered ${message.type}`);
    return message as Extract<FromGateway, { type: T }>;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.send({ type: 'close' } as ToGateway);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

const live = new Set<GatewayChild>();

/** One GET; resolves with the body length. */
function get(agent: http.Agent, url: string, range: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, headers: range ? { range } : {} }, (response) => {
      let length = 0;
      response.on('data', (chunk: Buffer) => (length += chunk.length));
      response.on('end', () => {
        if (response.statusCode !== 200 && response.statusCode !== 206) reject(new ReplayError(`GET ${url} answered ${response.statusCode}`));
        else resolve(length);
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.setTimeout(120_000, () => request.destroy(new ReplayError(`GET ${url} timed out`)));
  });
}

/** Sparse files of the trace's object sizes under <root>/<BUCKET>/. */
function writeObjects(root: string, trace: Trace): void {
  const dir = path.join(root, BUCKET);
  mkdirSync(dir, { recursive: true });
  for (let id = 0; id < trace.objectSize.length; id++) {
    const fd = openSync(path.join(dir, objectKey(id)), 'w');
    try {
      ftruncateSync(fd, trace.objectSize[id]);
    } finally {
      closeSync(fd);
    }
  }
}

/** Replays one trace case through a fresh gateway whose files live under `work`. */
export async function replayThroughGateway(tc: TraceCase, pageSize: number, work: string): Promise<GatewayResult> {
  const { trace } = tc;
  const storeRoot = path.join(work, 'store');
  writeObjects(storeRoot, trace);
  const configFile = path.join(work, 'ringcache.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      server: { host: '127.0.0.1', port: 0 },
      mounts: { [BUCKET]: { uri: pathToFileURL(path.join(storeRoot, BUCKET)).href, anonymousRead: true, metadataTtlSeconds: 86_400 } },
      credentials: [{ accessKeyId: 'bench', secretAccessKey: 'bench-secret-key' }],
      cache: {
        pageSize,
        memory: { maxBytes: tc.memoryBytes },
        disk: { path: path.join(work, 'cache'), maxBytes: tc.diskBytes },
        metadata: { ttlSeconds: 86_400 },
      },
      jobs: { stateDir: path.join(work, 'jobs') },
      log: { level: 'warn' },
    }),
  );
  const gateway = await GatewayChild.start(configFile);
  live.add(gateway);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const pages = toPages(trace, pageSize);
    const n = trace.requests.length;
    let pageBytes = 0;
    for (let k = 0; k < pages.pages.length; k++) pageBytes += pages.pageSize[pages.pages[k]];
    let before: ReadCount = { reads: 0, bytes: 0 };
    let objectHits = 0;
    const started = performance.now();
    let nextReport = started + 10_000;
    for (let i = 0; i < n; i++) {
      const id = trace.requests[i];
      const start = trace.rangeStart?.[i] ?? -1;
      const size = trace.objectSize[id];
      const range = start >= 0 ? `bytes=${start}-${(trace.rangeEnd as Float64Array)[i] - 1}` : undefined;
      const expected = start >= 0 ? (trace.rangeEnd as Float64Array)[i] - start : size;
      const length = await get(agent, `${gateway.url}/${BUCKET}/${objectKey(id)}`, range);
      if (length !== expected) throw new ReplayError(`request ${i} (${objectKey(id)} ${range ?? 'whole'}): ${length} bytes, expected ${expected}`);
      const after = await gateway.ask('reads');
      if (after.reads === before.reads) objectHits++;
      before = after;
      if (performance.now() > nextReport) {
        nextReport += 10_000;
        process.stderr.write(`  ${trace.name}: ${fmt(i + 1)} / ${fmt(n)} requests, ${fmt((i + 1) / ((performance.now() - started) / 1000))} req/s\n`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const metrics = await scrapeMetrics(gateway.url);
    const served = (tier: string): number => metricSum(metrics, 'ringcache_cache_bytes_served_total', { tier });
    const stats = await gateway.ask('stats');
    return {
      requests: n,
      pageBytes,
      storeReads: before.reads,
      storeBytes: before.bytes,
      objectHits,
      seconds,
      served: { memory: served('memory'), disk: served('disk'), ufs: served('ufs'), peer: served('peer') },
      ufsReadsMetric: metricSum(metrics, 'ringcache_ufs_reads_total'),
      stats,
    };
  } finally {
    agent.destroy();
    await gateway.close();
    live.delete(gateway);
  }
}

interface Summary {
  name: string;
  gateway: number;
  lru: number;
  s3fifo: number;
  bestName: string;
  best: number;
  belady: number;
}

function printCase(tc: TraceCase, offline: CaseResult, g: GatewayResult): Summary {
  const byteHit = g.pageBytes === 0 ? 0 : 1 - g.storeBytes / g.pageBytes;
  const objectHit = g.requests === 0 ? 0 : g.objectHits / g.requests;
  const row = (name: string) => offline.rows.find((r) => r.name === name);
  const lru = row('LRU')?.byteHitRatio ?? Number.NaN;
  const online = offline.rows.filter((r) => ONLINE_POLICIES.includes(r.name));
  const best = online.reduce((a, b) => (b.byteHitRatio > a.byteHitRatio ? b : a));
  const belady = row(BELADY_NAME)?.byteHitRatio ?? Number.NaN;
  const servedTotal = g.served.memory + g.served.disk + g.served.ufs + g.served.peer;
  console.log(`\n## ${tc.trace.name}: ${tc.trace.description}`);
  console.log(
    `${fmt(g.requests)} GETs in ${fmt(g.seconds, 1)} s (${fmt(g.requests / g.seconds)} req/s), one at a time in trace order; ` +
      `cache ${fmt(tc.memoryBytes / MiB)} MiB memory + ${fmt(tc.diskBytes / MiB)} MiB disk, ${fmt(offline.pageSize / 1024)} KiB pages\n`,
  );
  const rel = (x: number, base: number): string => (base > 0 ? `${x >= base ? '+' : ''}${fmt((x / base - 1) * 100, 1)}%` : 'n/a');
  const rows: string[][] = [
    ['gateway (replayed, store reads counted)', fmt(byteHit, 3), fmt(objectHit, 3), rel(byteHit, lru), rel(byteHit, best.byteHitRatio), rel(byteHit, belady)],
    ...offline.rows
      .filter((r) => OFFLINE_ROWS.includes(r.name) || r.name === BELADY_NAME)
      .map((r) => [`${r.name} (offline)`, fmt(r.byteHitRatio, 3), fmt(r.objectHitRatio, 3), rel(r.byteHitRatio, lru), rel(r.byteHitRatio, best.byteHitRatio), rel(r.byteHitRatio, belady)]),
  ];
  console.log(table(['replay', 'byte hit', 'object hit', 'vs LRU', `vs best (${best.name})`, 'vs Belady'], rows));
  console.log(
    `\ngateway counters: ringcache_ufs_reads_total ${fmt(g.ufsReadsMetric)} (counted at the store: ${fmt(g.storeReads)} reads, ${fmt(g.storeBytes / MiB, 1)} MiB); ` +
      `ringcache_cache_bytes_served_total memory ${fmt(g.served.memory / MiB, 1)} MiB, disk ${fmt(g.served.disk / MiB, 1)} MiB, ufs ${fmt(g.served.ufs / MiB, 1)} MiB ` +
      `(hit share of bytes served ${fmt(servedTotal > 0 ? (g.served.memory + g.served.disk) / servedTotal : 0, 3)}; memory ${fmt(servedTotal > 0 ? g.served.memory / servedTotal : 0, 3)})`,
  );
  const s = g.stats;
  console.log(
    `at the end: memory ${fmt(s.memoryPages)} pages (${fmt(s.memoryBytes / MiB, 1)} MiB) + ${fmt(s.metadataEntries)} metadata entries (${fmt(s.metadataBytes / MiB, 2)} MiB) + bookkeeping ${fmt(s.overheadBytes / MiB, 2)} MiB; ` +
      `disk ${fmt(s.diskPages)} pages (${fmt(s.diskBytes / MiB, 1)} MiB); policy ${fmt(s.policyPages)} pages; disk puts skipped (disk behind) ${fmt(s.skippedDiskPuts)}`,
  );
  return { name: tc.trace.name, gateway: byteHit, lru, s3fifo: row('S3-FIFO')?.byteHitRatio ?? Number.NaN, bestName: best.name, best: best.byteHitRatio, belady };
}

function printSummary(summaries: Summary[]): void {
  console.log('\n## Byte hit ratio: the gateway against the offline policies on the same trace and capacity\n');
  const rows = summaries.map((s) => {
    const vsBest = s.best > 0 ? s.gateway / s.best : Number.NaN;
    const lruOk = s.gateway >= s.lru - 0.0005;
    const bestOk = !SCAN_AND_ONE_HIT.includes(s.name) || vsBest >= 0.95;
    return [
      s.name,
      fmt(s.gateway, 3),
      fmt(s.lru, 3),
      fmt(s.s3fifo, 3),
      `${fmt(s.best, 3)} (${s.bestName})`,
      fmt(s.belady, 3),
      Number.isFinite(vsBest) ? fmt(vsBest, 3) : 'n/a',
      lruOk && bestOk ? 'PASS' : 'SHORT',
    ];
  });
  console.log(table(['trace', 'gateway', 'LRU', 'S3-FIFO', 'best online policy', 'Belady', 'gateway / best', 'verdict'], rows));
  console.log('\nTargets (issue #18): on every trace the gateway >= offline LRU; on zipf-0.9+scan and one-hit-wonders also');
  console.log('>= 95% of the best online policy simulated offline (LRU, S3-FIFO, W-TinyLFU, SIEVE, ARC). Belady is the');
  console.log('offline optimum for equal sizes (a heuristic for mixed sizes), shown for reference.');
}

async function traceCases(): Promise<TraceCase[]> {
  const file = process.env.BENCH_TRACE;
  if (file) {
    const trace = await readTraceFile(file);
    return [{ trace, memoryBytes: Math.round(num('BENCH_MEMORY_MIB', 16) * MiB), diskBytes: Math.round(num('BENCH_DISK_MIB', 48) * MiB) }];
  }
  const all = standardTraces(num('BENCH_SCALE', 0.1), num('BENCH_SEED', 1));
  const wanted = process.env.BENCH_TRACES?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!wanted) return all;
  const unknown = wanted.filter((w) => !all.some((tc) => tc.trace.name === w));
  if (unknown.length > 0) throw new ReplayError(`unknown trace(s) ${unknown.join(', ')}; standard traces: ${all.map((tc) => tc.trace.name).join(', ')}`);
  return all.filter((tc) => wanted.includes(tc.trace.name));
}

async function main(): Promise<void> {
  const pageSize = num('BENCH_PAGE_SIZE', MiB);
  const cases = await traceCases();
  const parent = process.env.BENCH_TMPDIR || os.tmpdir();
  console.log(`Trace replay through a gateway (issue #18): node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => fmt(l, 2)).join(' ')}`);
  const contenders = CONTENDERS.filter((c) => OFFLINE_ROWS.includes(c.name));
  const summaries: Summary[] = [];
  for (const tc of cases) {
    const work = mkdtempSync(path.join(parent, 'ringcache-replay-'));
    try {
      const replayed = await replayThroughGateway(tc, pageSize, work);
      const offline = runCase(tc, pageSize, contenders);
      summaries.push(printCase(tc, offline, replayed));
    } finally {
      if (process.env.BENCH_KEEP_DATA !== '1') rmSync(work, { recursive: true, force: true });
      else console.log(`kept ${work}`);
    }
  }
  if (summaries.length > 0) printSummary(summaries);
  console.log(`\nload average at the end: ${os.loadavg().map((l) => fmt(l, 2)).join(' ')}`);
}

const stopAll = (): void => {
  for (const gateway of live) gateway.kill();
};

if (require.main === module) {
  process.once('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  process.once('SIGTERM', () => {
    stopAll();
    process.exit(143);
  });
  main().catch((err: unknown) => {
    stopAll();
    console.error(err instanceof ReplayError ? err.message : err);
    process.exit(1);
  });
}
