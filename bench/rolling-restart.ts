/**
 * Rolling-restart benchmark (issue #12): how many store calls a rolling restart of a 3-node
 * cluster costs afterwards, over BENCH_OBJECTS cached objects.
 *
 *   npm run bench:rolling        # = npm run build --silent && node dist/bench/rolling-restart.js
 *   BENCH_BASELINE=/tmp/baseline node dist/bench/rolling-restart.js   # before / after in one table
 *
 * For each build (this one; with BENCH_BASELINE also the build in that folder, run first):
 *  1. writes BENCH_OBJECTS (10,000) objects of BENCH_OBJECT_BYTES (1 KiB) straight into a
 *     shared data folder (bucket "bench"), the same bytes for every build;
 *  2. starts three gateway processes (`serve --config FILE`, node-a/b/c, static peers, one
 *     shared data folder, a cache folder each, metadata TTL of a day so that no TTL runs out
 *     during the run, short leases as the tests use) and waits until their views are settled;
 *  3. reads every object once through the cluster (round-robin over the nodes), so that each
 *     key's owner caches its metadata and page, then a second time ("steady": the control,
 *     which should cost no store call);
 *  4. rolling restart: for each node in turn, SIGTERM, wait until the other two agree on a view
 *     without it (and have settled), start it again, wait until the view of three is settled
 *     (leases held, fences and cacheGraceMs past), then read every object once (round-robin)
 *     and count the store calls the three nodes made during that read pass
 *     (/_ringcache/metrics: ringcache_ufs_stats_total, ringcache_ufs_reads_total,
 *     ringcache_ufs_calls_total by op, ringcache_cluster_revalidations_total).
 * "moved" is the number of keys whose owner changed when the node left (they come back to it
 * when it returns), computed with that build's own ring (dist/src/cluster/ring.js). Every body
 * read is compared with what was written.
 *
 * Exit code: 0 on success; 1 on a failure (wrong bytes, an S3 error after 3 tries, a node that
 * did not come back or whose cluster did not settle); 130/143 when interrupted. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ringKey } from '../src/cluster/cluster-node';
import type { Ring } from '../src/cluster/ring';
import { fetchRingView, type RingViewAnswer } from './lib/ring-view';
import { BenchError, runBench } from './lib/bench-run';
import { Child, freePort, stopAll, waitForHttp } from './lib/processes';
import { metricSum, scrapeMetrics, type MetricSamples } from './lib/metrics-scrape';
import { fmt, table } from './lib/numbers';
import { openWorkDir } from './lib/work-dir';

const BUCKET = 'bench';
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench-secret-key' };
const NODE_IDS = ['node-a', 'node-b', 'node-c'];
const MiB = 1024 * 1024;

const num = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  objects: num('BENCH_OBJECTS', 10_000),
  objectBytes: num('BENCH_OBJECT_BYTES', 1024),
  concurrency: num('BENCH_CONCURRENCY', 16),
  settleTimeoutMs: num('BENCH_SETTLE_TIMEOUT_MS', 60_000),
  baseline: process.env.BENCH_BASELINE || undefined,
  tmpParent: process.env.BENCH_TMPDIR || os.tmpdir(),
  keep: process.env.BENCH_KEEP_DATA === '1',
};

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** A gateway build: its CLI, its ring code, and whether its cluster has leases (ownership by agreement). */
interface Build {
  label: string;
  root: string;
  cli: string;
  /** Builds with `cluster.lease` / `cluster.quorum` settings and lease/settlingMs in the ring view. */
  leases: boolean;
  buildRing: (ids: Iterable<string>) => Ring;
}

function loadBuild(label: string, distSrc: string): Build {
  // Newer builds have the CLI in src/cli/, older ones in src/cli.js.
  const cli = [path.join(distSrc, 'cli/ringcache.js'), path.join(distSrc, 'cli.js')].find((f) => existsSync(f));
  if (!cli) throw new BenchError(`no gateway CLI under ${distSrc} (cli/ringcache.js or cli.js): build it first`);
  const ringModule = require(path.join(distSrc, 'cluster/ring.js')) as { buildRing: Build['buildRing'] };
  return { label, root: distSrc, cli, leases: existsSync(path.join(distSrc, 'cluster/lease.js')), buildRing: ringModule.buildRing };
}

interface Gateway {
  id: string;
  url: string;
  configFile: string;
  child: Child;
}

type ViewAnswer = RingViewAnswer;

const ringView = (url: string): Promise<ViewAnswer | undefined> => fetchRingView(url, CREDENTIALS);

/**
 * Waits until every gateway in `gateways` holds the same view of exactly `members`, and (builds
 * with leases) holds its lease and has settled every key it owns (fences and cacheGraceMs past).
 */
async function waitSettled(gateways: Gateway[], members: string[], build: Build, what: string): Promise<number> {
  const start = performance.now();
  const deadline = Date.now() + settings.settleTimeoutMs;
  const want = [...members].sort().join();
  for (;;) {
    for (const g of gateways) g.child.assertAlive();
    const views = await Promise.all(gateways.map((g) => ringView(g.url)));
    const ok = views.every((v) => v !== undefined && v.members.map((m) => m.id).sort().join() === want && (!build.leases || (v.lease === true && v.settlingMs === 0)));
    const sameEpoch = !build.leases || new Set(views.map((v) => v?.epoch)).size === 1;
    if (ok && sameEpoch) return performance.now() - start;
    if (Date.now() > deadline) {
      const seen = views.map((v, i) => `${gateways[i].id}: ${v ? `[${v.members.map((m) => m.id).join(',')}] epoch ${v.epoch ?? '-'} lease ${v.lease ?? '-'} settling ${v.settlingMs ?? '-'}` : 'no answer'}`).join('; ');
      throw new BenchError(`${what}: not settled on [${want}] within ${settings.settleTimeoutMs / 1000} s (${seen})${gateways.map((g) => g.child.describeOutput()).join('')}`);
    }
    await sleep(100);
  }
}

interface Counts {
  stats: number;
  reads: number;
  calls: Map<string, number>;
  revalidations: number | undefined;
  handoffHits: number;
}

function counts(samples: MetricSamples[]): Counts {
  const sum = (name: string, match: Record<string, string> = {}): number => samples.reduce((a, s) => a + metricSum(s, name, match), 0);
  const calls = new Map<string, number>();
  for (const s of samples) for (const m of s) if (m.name === 'ringcache_ufs_calls_total') calls.set(m.labels.op, (calls.get(m.labels.op) ?? 0) + m.value);
  const hasRevalidations = samples.some((s) => s.some((m) => m.name === 'ringcache_cluster_revalidations_total'));
  return {
    stats: sum('ringcache_ufs_stats_total'),
    reads: sum('ringcache_ufs_reads_total'),
    calls,
    revalidations: hasRevalidations ? sum('ringcache_cluster_revalidations_total') : undefined,
    handoffHits: sum('ringcache_cluster_handoff_pages_total', { result: 'hit' }),
  };
}

function delta(a: Counts, b: Counts): Counts {
  const calls = new Map<string, number>();
  for (const [op, n] of b.calls) if (n - (a.calls.get(op) ?? 0) > 0) calls.set(op, n - (a.calls.get(op) ?? 0));
  return {
    stats: b.stats - a.stats,
    reads: b.reads - a.reads,
    calls,
    revalidations: b.revalidations === undefined ? undefined : b.revalidations - (a.revalidations ?? 0),
    handoffHits: b.handoffHits - a.handoffHits,
  };
}

interface Step {
  name: string;
  moved: number;
  counts: Counts;
  retries: number;
  readSeconds: number;
  downSettleMs?: number;
  upSettleMs?: number;
}

interface BuildResult {
  build: Build;
  warm: Counts;
  steps: Step[];
}

async function runBuild(build: Build, keys: string[], bodies: Buffer[]): Promise<BuildResult> {
  const workDir = openWorkDir(settings.tmpParent, 'ringcache-rolling-bench-', { keep: settings.keep });
  const work = workDir.path;
  try {
    const dataDir = path.join(work, 'data');
    log(`[${build.label}] writing ${fmt(keys.length)} objects of ${fmt(settings.objectBytes)} bytes into ${dataDir}/${BUCKET} ...`);
    await mkdir(path.join(dataDir, BUCKET), { recursive: true });
    for (let i = 0; i < keys.length; i += 256) await Promise.all(keys.slice(i, i + 256).map((k, j) => writeFile(path.join(dataDir, BUCKET, k), bodies[i + j])));

    const ports = await Promise.all(NODE_IDS.map(() => freePort()));
    const peers = NODE_IDS.map((id, i) => ({ id, url: `http://127.0.0.1:${ports[i]}` }));
    const gateways: Gateway[] = [];
    for (const [i, { id, url }] of peers.entries()) {
      const config = {
        server: { host: '127.0.0.1', port: ports[i] },
        dataDir,
        credentials: [{ ...CREDENTIALS, grants: { '*': 'write' } }],
        cache: {
          disk: { path: path.join(work, `cache-${id}`), maxBytes: 1024 * MiB },
          memory: { maxBytes: 256 * MiB },
          // No metadata expires by age during the run: only ring changes make a node ask the store again.
          metadata: { ttlSeconds: 86_400, maxEntries: Math.max(100_000, 2 * keys.length) },
        },
        jobs: { stateDir: path.join(work, `jobs-${id}`) },
        log: { level: 'warn' },
        cluster: {
          nodeId: id,
          advertiseUrl: url,
          secret: 'bench-cluster-secret-0123456789',
          peers,
          health: { probeIntervalMs: 300, probeTimeoutMs: 500, failuresBeforeDown: 2 },
          suspectSeconds: 3,
          // Short leases, as the tests use, so that views settle in seconds (older builds have no leases).
          ...(build.leases ? { lease: { durationMs: 1200, marginMs: 200, cacheGraceMs: 300, standInWaitMs: 8000 } } : {}),
        },
      };
      const configFile = path.join(work, `config-${id}.json`);
      await writeFile(configFile, JSON.stringify(config, null, 2));
      gateways.push({ id, url, configFile, child: undefined as unknown as Child });
    }
    const start = async (g: Gateway): Promise<void> => {
      g.child = Child.spawn(`${build.label} ${g.id}`, [process.execPath, build.cli, 'serve', '--config', g.configFile], { env: { PATH: process.env.PATH }, cwd: work });
      await waitForHttp(g.child, `${g.url}/_ringcache/healthz`, settings.settleTimeoutMs);
    };
    log(`[${build.label}] starting 3 gateways (${build.cli}) ...`);
    await Promise.all(gateways.map(start));
    await waitSettled(gateways, NODE_IDS, build, 'start');

    const clients = gateways.map((g) => new S3Client({ endpoint: g.url, region: 'us-east-1', forcePathStyle: true, credentials: { ...CREDENTIALS }, maxAttempts: 1 }));
    const snapshot = async (): Promise<Counts> => counts(await Promise.all(gateways.map((g) => scrapeMetrics(g.url))));
    const ring3 = build.buildRing(NODE_IDS);

    /** Reads every key once, key i through node i mod 3, comparing every body; S3 errors are retried (3 tries). */
    const readPass = async (): Promise<{ counts: Counts; retries: number; seconds: number }> => {
      const before = await snapshot();
      const t0 = performance.now();
      let next = 0;
      let retries = 0;
      const worker = async (): Promise<void> => {
        for (let i = next++; i < keys.length; i = next++) {
          for (let attempt = 1; ; attempt++) {
            try {
              const got = await clients[i % clients.length].send(new GetObjectCommand({ Bucket: BUCKET, Key: keys[i] }));
              const body = Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
              if (!body.equals(bodies[i])) throw new BenchError(`GET ${keys[i]} through ${gateways[i % gateways.length].id}: ${body.length} bytes that differ from the ${bodies[i].length} written`);
              break;
            } catch (err) {
              if (err instanceof BenchError || attempt === 3) throw err instanceof BenchError ? err : new BenchError(`GET ${keys[i]} through ${gateways[i % gateways.length].id}: ${(err as Error).name}: ${(err as Error).message}`);
              retries++;
              await sleep(100 * attempt);
            }
          }
        }
      };
      await Promise.all(Array.from({ length: settings.concurrency }, worker));
      const seconds = (performance.now() - t0) / 1000;
      for (const g of gateways) g.child.assertAlive();
      return { counts: delta(before, await snapshot()), retries, seconds };
    };

    log(`[${build.label}] first read of every object (fills the owners' caches) ...`);
    const warm = await readPass();
    const steps: Step[] = [];
    log(`[${build.label}] steady read pass (control: no ring change) ...`);
    const steady = await readPass();
    steps.push({ name: 'steady (no restart)', moved: 0, counts: steady.counts, retries: steady.retries, readSeconds: steady.seconds });

    for (const g of gateways) {
      const others = gateways.filter((o) => o !== g);
      log(`[${build.label}] restarting ${g.id}: SIGTERM ...`);
      await g.child.stop('SIGTERM', 15_000);
      const downSettleMs = await waitSettled(others, others.map((o) => o.id), build, `view without ${g.id}`);
      log(`[${build.label}]   the other two agreed on a view without ${g.id} (${fmt(downSettleMs)} ms); starting it again ...`);
      const t0 = performance.now();
      await start(g).catch((err: unknown) => {
        throw new BenchError(`${g.id} did not come back: ${(err as Error).message}`);
      });
      await waitSettled(gateways, NODE_IDS, build, `view of three after restarting ${g.id}`);
      const upSettleMs = performance.now() - t0;
      const ring2 = build.buildRing(others.map((o) => o.id));
      const moved = keys.filter((k) => ring3.owner(ringKey(BUCKET, k)) !== ring2.owner(ringKey(BUCKET, k))).length;
      log(`[${build.label}]   view of three settled ${fmt(upSettleMs)} ms after the start; read pass ...`);
      const pass = await readPass();
      log(`[${build.label}]   ${fmt(pass.counts.stats)} metadata requests, ${fmt(pass.counts.reads)} data reads (${fmt(moved)} keys moved)`);
      steps.push({ name: `restart ${g.id}`, moved, counts: pass.counts, retries: pass.retries, readSeconds: pass.seconds, downSettleMs, upSettleMs });
    }
    for (const c of clients) c.destroy();
    return { build, warm: warm.counts, steps };
  } finally {
    await workDir.cleanup();
    workDir.release();
  }
}

const callsText = (c: Counts): string => [...c.calls.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([op, n]) => `${op} ${fmt(n)}`).join(', ') || '0';

function report(results: BuildResult[]): string {
  const lines: string[] = [];
  const restarts = (r: BuildResult): Step[] => r.steps.filter((s) => s.name.startsWith('restart'));
  const total = (r: BuildResult, f: (s: Step) => number): number => restarts(r).reduce((a, s) => a + f(s), 0);
  for (const r of results) {
    lines.push('', `${r.build.label}: ${r.build.cli}${r.build.leases ? '' : ' (no leases: views are the members each node sees)'}`);
    lines.push(`first read (cold): ${fmt(r.warm.stats)} metadata requests, ${fmt(r.warm.reads)} data reads; store calls: ${callsText(r.warm)}`);
    const rows = r.steps.map((s) => [
      s.name,
      fmt(s.moved),
      fmt(s.counts.stats),
      fmt(s.counts.reads),
      callsText(s.counts),
      s.counts.revalidations === undefined ? '-' : fmt(s.counts.revalidations),
      fmt(s.counts.handoffHits),
      fmt(s.retries),
      fmt(s.readSeconds, 1),
      s.downSettleMs === undefined ? '-' : `${fmt(s.downSettleMs / 1000, 1)} / ${fmt((s.upSettleMs ?? 0) / 1000, 1)}`,
    ]);
    rows.push(['3 restarts', fmt(total(r, (s) => s.moved)), fmt(total(r, (s) => s.counts.stats)), fmt(total(r, (s) => s.counts.reads)), '', '', '', fmt(total(r, (s) => s.retries)), '', '']);
    lines.push(table(['read pass after', 'moved', 'metadata req.', 'data reads', 'store calls by op', 'revalidated', 'hand-off pages', 'retries', 'read s', 'settle s (down / up)'], rows));
  }
  if (results.length === 2) {
    const [before, after] = results;
    const rows = after.steps.map((s, i) => {
      const b = before.steps[i];
      return [s.name, fmt(s.moved), fmt(b.counts.stats), fmt(b.counts.reads), fmt(s.counts.stats), fmt(s.counts.reads)];
    });
    rows.push(['3 restarts', fmt(total(after, (s) => s.moved)), fmt(total(before, (s) => s.counts.stats)), fmt(total(before, (s) => s.counts.reads)), fmt(total(after, (s) => s.counts.stats)), fmt(total(after, (s) => s.counts.reads))]);
    lines.push('', `before (${before.build.cli}) / after (${after.build.cli}): store calls of the read pass over ${fmt(settings.objects)} objects, summed over the 3 nodes:`);
    lines.push(table(['read pass after', 'moved keys', 'before: metadata req.', 'before: data reads', 'after: metadata req.', 'after: data reads'], rows));
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const onSignal = (signal: NodeJS.Signals): void => void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const builds: Build[] = [];
  if (settings.baseline) builds.push(loadBuild('before', path.join(path.resolve(settings.baseline), 'dist/src')));
  builds.push(loadBuild(settings.baseline ? 'after' : 'this build', path.resolve(__dirname, '../src')));

  const keys = Array.from({ length: settings.objects }, (_, i) => `obj-${String(i).padStart(6, '0')}`);
  const bodies = keys.map(() => randomBytes(settings.objectBytes));
  console.log(`Ringcache rolling-restart benchmark: node ${process.version}, ${os.availableParallelism()} CPUs, ${os.platform()} ${os.release()}`);
  console.log(`3 gateways (static peers, shared data folder), ${fmt(settings.objects)} objects of ${fmt(settings.objectBytes)} bytes, each read pass round-robin over the nodes with ${settings.concurrency} GETs in flight`);
  console.log(`load average before the run: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const results: BuildResult[] = [];
  for (const build of builds) results.push(await runBuild(build, keys, bodies));
  console.log(report(results));
  console.log(`\nmoved: keys whose owner changed when the node left (and changed back when it returned), from the build's ring; metadata req.: ringcache_ufs_stats_total (a stat, or a read that brings metadata and first page together); data reads: ringcache_ufs_reads_total; revalidated: ringcache_cluster_revalidations_total; all summed over the 3 nodes during the read pass.`);
  return 0;
}

runBench(main);
