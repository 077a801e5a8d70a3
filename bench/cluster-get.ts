/**
 * Cluster GET benchmark: what the forwarding hop costs, and what the ring-aware client
 * (src/client/ring-aware.ts) saves, in one run on one machine.
 *
 *   npm run bench:cluster        # = npm run build --silent && node dist/bench/cluster-get.js
 *
 * Starts three gateway processes (`node dist/src/cli/ringcache.js serve`, static membership, one shared
 * data folder, a cache folder each) pinned to CPU 0, this process on CPU 1 (when taskset and
 * 2 CPUs are there). Writes 64 KiB and 1 MiB objects, reads each once through its owner
 * (SHA-256 checked: the warm-up), then for each size measures warm GETs with the same load
 * generator (AWS SDK v3 clients in this process, BENCH_CONCURRENCY requests in flight,
 * round-robin over the keys, BENCH_SECONDS per cell after a BENCH_WARM_SECONDS warm-up,
 * BENCH_ROUNDS rounds that interleave the modes; medians are reported):
 *   owner      each request sent to its key's owner (plain clients, one per node);
 *   non-owner  each request sent to a node that does not own the key (it forwards);
 *   ring-aware one client configured with node-a plus withRingAwareness, over all keys.
 * Prints req/s, MiB/s, p50/p99 latency, the cores' busy %, the nodes' route counters, and
 * the ratios non-owner/owner and ring-aware/owner.
 *
 * Exit code: 0 (a benchmark); 1 on an error (wrong length or hash, an S3 error, a gateway
 * that died); 130/143 when interrupted. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { withRingAwareness } from '../src/client/ring-aware';
import { ringKey } from '../src/cluster/cluster-node';
import { buildRing } from '../src/cluster/ring';
import { fetchRingView } from './lib/ring-view';
import { BenchError, MiB, runBench } from './lib/bench-run';
import { Child, freePort, waitForHttp, which } from './lib/processes';
import { busyPercent, cpuTimes } from './lib/cpu-times';
import { metricSum, scrapeMetrics } from './lib/metrics-scrape';
import { fmt, median, percentile, table } from './lib/numbers';
import { openWorkDir } from './lib/work-dir';

const BUCKET = 'bench';
const CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench-secret-key' };
const GATEWAY_CLI = path.resolve(__dirname, '../src/cli/ringcache.js');
const NODE_IDS = ['node-a', 'node-b', 'node-c'];
const MODES = ['owner', 'non-owner', 'ring-aware'] as const;
type Mode = (typeof MODES)[number];

const num = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  seconds: num('BENCH_SECONDS', 8),
  rounds: num('BENCH_ROUNDS', 3),
  warmSeconds: num('BENCH_WARM_SECONDS', 2),
  concurrency: num('BENCH_CONCURRENCY', 16),
  classes: [
    { id: '64k', size: 64 * 1024, count: num('BENCH_SMALL_COUNT', 64) },
    { id: '1m', size: MiB, count: num('BENCH_LARGE_COUNT', 16) },
  ].filter((c) => c.count > 0),
  tmpParent: process.env.BENCH_TMPDIR || os.tmpdir(),
  keep: process.env.BENCH_KEEP_DATA === '1',
};

interface Gateway {
  id: string;
  url: string;
  child: Child;
}

interface CellResult {
  requests: number;
  bytes: number;
  seconds: number;
  latencies: number[];
  cpu: number[];
  routes: { local: number; forwarded: number; fromPeer: number };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

async function startGateways(work: string, server: string[]): Promise<Gateway[]> {
  const ports = await Promise.all(NODE_IDS.map(() => freePort()));
  const peers = NODE_IDS.map((id, i) => ({ id, url: `http://127.0.0.1:${ports[i]}` }));
  const gateways = await Promise.all(
    peers.map(async ({ id, url }, i) => {
      const config = {
        server: { host: '127.0.0.1', port: ports[i] },
        dataDir: path.join(work, 'data'),
        credentials: [{ ...CREDENTIALS, grants: { '*': 'write' } }],
        cache: { disk: { path: path.join(work, `cache-${id}`), maxBytes: 1024 * MiB }, memory: { maxBytes: 256 * MiB } },
        jobs: { stateDir: path.join(work, `jobs-${id}`) },
        log: { level: 'warn' },
        cluster: { nodeId: id, advertiseUrl: url, secret: 'bench-cluster-secret-0123456789', peers },
      };
      const file = path.join(work, `config-${id}.json`);
      await writeFile(file, JSON.stringify(config, null, 2));
      const child = Child.spawn(id, [...server, process.execPath, GATEWAY_CLI, 'serve', '--config', file], { env: { PATH: process.env.PATH } });
      await waitForHttp(child, `${url}/_ringcache/healthz`);
      return { id, url, child };
    }),
  );
  const deadline = Date.now() + 20_000;
  for (const g of gateways) {
    while ((await fetchRingView(g.url, CREDENTIALS))?.members.length !== NODE_IDS.length) {
      if (Date.now() > deadline) throw new BenchError(`${g.id} never saw all ${NODE_IDS.length} members`);
      await sleep(100);
    }
  }
  return gateways;
}

async function routeCounters(gateways: Gateway[]): Promise<CellResult['routes']> {
  const samples = await Promise.all(gateways.map((g) => scrapeMetrics(g.url)));
  const sum = (route: string): number => samples.reduce((a, s) => a + metricSum(s, 'ringcache_cluster_requests_total', { route }), 0);
  return { local: sum('local'), forwarded: sum('forwarded'), fromPeer: sum('from-peer') };
}

/** `concurrency` loops, each sending the next key's GET until the time is up; bodies are counted, not kept. */
async function load(seconds: number, keys: string[], size: number, clientFor: (key: string) => S3Client): Promise<Omit<CellResult, 'cpu' | 'routes'>> {
  const latencies: number[] = [];
  let next = 0;
  let bytes = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const key = keys[next++ % keys.length];
      const t0 = performance.now();
      const got = await clientFor(key).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      let n = 0;
      for await (const chunk of got.Body as AsyncIterable<Buffer>) n += chunk.length;
      if (n !== size) throw new BenchError(`GET ${key}: ${n} bytes, expected ${size}`);
      latencies.push(performance.now() - t0);
      bytes += n;
    }
  };
  await Promise.all(Array.from({ length: settings.concurrency }, worker));
  return { requests: latencies.length, bytes, seconds: (performance.now() - start) / 1000, latencies };
}

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const cpus = os.availableParallelism();
  const taskset = process.env.BENCH_NO_PIN === '1' ? undefined : which('taskset');
  const pinned = taskset !== undefined && cpus >= 2;
  const server = pinned ? [taskset, '-c', '0'] : [];
  if (pinned) spawnSync(taskset, ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const pinning = pinned ? 'the 3 gateways share CPU 0 (taskset -c 0), this process (the load generator) is on CPU 1' : 'not pinned: the gateways and the load generator share every CPU';

  const workDir = openWorkDir(settings.tmpParent, 'ringcache-cluster-bench-', { keep: settings.keep, signals: () => undefined });
  const work = workDir.path;
  await mkdir(path.join(work, 'data'), { recursive: true });

  console.log(`Ringcache cluster GET benchmark: node ${process.version}, ${cpus} CPUs (${os.cpus()[0]?.model ?? '?'}), ${os.platform()} ${os.release()}`);
  console.log(`${pinning}; ${settings.concurrency} GETs in flight, ${settings.rounds} rounds of ${settings.seconds} s per cell, each after ${settings.warmSeconds} s of warm-up`);
  const loadAvg = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`load average before the run: ${loadAvg()} (other processes on the machine skew every figure)`);
  try {
    log('starting 3 gateways ...');
    const gateways = await startGateways(work, server);
    const clientOf = (url: string): S3Client => new S3Client({ endpoint: url, region: 'us-east-1', forcePathStyle: true, credentials: { ...CREDENTIALS }, maxAttempts: 1 });
    const plain = new Map(gateways.map((g) => [g.id, clientOf(g.url)]));
    const ringAwareClient = clientOf(gateways[0].url);
    const ringAware = withRingAwareness(ringAwareClient);
    const ring = buildRing(NODE_IDS);
    const ownerOf = (key: string): string => ring.owner(ringKey(BUCKET, key)) as string;
    const nonOwnerOf = (key: string): string => NODE_IDS[(NODE_IDS.indexOf(ownerOf(key)) + 1) % NODE_IDS.length];
    const clientFor: Record<Mode, (key: string) => S3Client> = {
      owner: (key) => plain.get(ownerOf(key)) as S3Client,
      'non-owner': (key) => plain.get(nonOwnerOf(key)) as S3Client,
      'ring-aware': () => ringAwareClient,
    };

    await (plain.get('node-a') as S3Client).send(new CreateBucketCommand({ Bucket: BUCKET }));
    const rows: string[][] = [];
    const ratios: string[][] = [];
    const routeRows: string[][] = [];
    for (const cls of settings.classes) {
      log(`writing ${cls.count} x ${cls.id} and reading each once through its owner ...`);
      const keys = Array.from({ length: cls.count }, (_, i) => `${cls.id}/obj-${String(i).padStart(4, '0')}`);
      for (const key of keys) {
        const body = randomBytes(cls.size);
        await (plain.get('node-a') as S3Client).send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
        const got = await clientFor.owner(key).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
        const hash = createHash('sha256');
        for await (const chunk of got.Body as AsyncIterable<Buffer>) hash.update(chunk);
        if (hash.digest('hex') !== createHash('sha256').update(body).digest('hex')) throw new BenchError(`SHA-256 mismatch on ${key}`);
      }
      // Rounds interleave the modes (rotating which goes first), so that a slow spell of the
      // machine does not land on one mode only; medians over the rounds are reported.
      const results = new Map<Mode, CellResult[]>(MODES.map((m) => [m, []]));
      for (let round = 0; round < settings.rounds; round++) {
        for (let i = 0; i < MODES.length; i++) {
          const mode = MODES[(i + round) % MODES.length];
          log(`${cls.id} round ${round + 1}/${settings.rounds} ${mode}: ${settings.warmSeconds} s warm-up, ${settings.seconds} s measured ...`);
          await load(settings.warmSeconds, keys, cls.size, clientFor[mode]);
          const [routes0, cpu0] = [await routeCounters(gateways), cpuTimes()];
          const run = await load(settings.seconds, keys, cls.size, clientFor[mode]);
          const [cpu1, routes1] = [cpuTimes(), await routeCounters(gateways)];
          for (const g of gateways) g.child.assertAlive();
          const routes = { local: routes1.local - routes0.local, forwarded: routes1.forwarded - routes0.forwarded, fromPeer: routes1.fromPeer - routes0.fromPeer };
          (results.get(mode) as CellResult[]).push({ ...run, cpu: busyPercent(cpu0, cpu1), routes });
          log(`  ${fmt(run.requests / run.seconds)} req/s, CPU busy % ${busyPercent(cpu0, cpu1).map((c) => fmt(c)).join(' / ')}`);
        }
      }
      const rate = (mode: Mode): number => median((results.get(mode) as CellResult[]).map((r) => r.requests / r.seconds));
      for (const mode of MODES) {
        const runs = results.get(mode) as CellResult[];
        const rates = runs.map((r) => r.requests / r.seconds);
        const latencies = runs.flatMap((r) => r.latencies);
        const cpu = runs[0].cpu.length >= 2 ? `${fmt(median(runs.map((r) => r.cpu[0])))} / ${fmt(median(runs.map((r) => r.cpu[1])))}` : 'n/a';
        const spread = rates.length > 1 ? `${fmt((100 * (Math.max(...rates) - Math.min(...rates))) / rate(mode))} %` : '-';
        rows.push([`${cls.id} ${mode}`, fmt(rate(mode)), fmt((rate(mode) * cls.size) / MiB, 1), spread, fmt(percentile(latencies, 50), 2), fmt(percentile(latencies, 99), 2), cpu]);
        const sum = (f: (r: CellResult) => number): string => fmt(runs.reduce((a, r) => a + f(r), 0));
        routeRows.push([`${cls.id} ${mode}`, sum((r) => r.requests), sum((r) => r.routes.local), sum((r) => r.routes.forwarded), sum((r) => r.routes.fromPeer)]);
      }
      ratios.push([cls.id, fmt(rate('non-owner') / rate('owner'), 2), fmt(rate('ring-aware') / rate('owner'), 2)]);
    }
    console.log(['', `medians over ${settings.rounds} rounds (spread: (max - min) / median of req/s; latencies over every round):`, table(['cell', 'req/s', 'MiB/s', 'spread', 'p50 ms', 'p99 ms', 'CPU0 / CPU1 busy %'], rows)].join('\n'));
    console.log(['', table(['ratio (req/s)', 'non-owner / owner', 'ring-aware / owner'], ratios)].join('\n'));
    console.log(['', 'route counters over the measured seconds, summed over the 3 nodes (warm-up excluded):', table(['cell', 'GETs', 'local', 'forwarded', 'from-peer'], routeRows)].join('\n'));
    const stats = ringAware.stats();
    console.log(`\nring-aware client: ${stats.direct} requests sent straight to owners, ${stats.viaEndpoint} through node-a, ${stats.fallbacks} fallbacks, ${stats.refreshes} ring fetches`);
    console.log(`load average after the run: ${loadAvg()}`);
    console.log(`All processes share this machine's ${cpus} CPUs: ${pinning}.`);
    ringAware.close();
    for (const c of [...plain.values(), ringAwareClient]) c.destroy();
    return 0;
  } finally {
    await workDir.cleanup();
    workDir.release();
  }
}

runBench(main);
