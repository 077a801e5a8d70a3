/**
 * Cache benchmark (issue #3): warm GET throughput of the gateway against nginx serving the
 * same files, and the latency of a cold miss / a warm hit in front of a slow origin.
 *
 *   npm run build && node dist/bench/cache-wrk.js
 *
 * Scenario 1, "throughput": the gateway (`node dist/src/cli/ringcache.js serve`, default cache
 * settings) and two nginx (sendfile on / off, one worker) over the same data dir, all pinned
 * to CPU 0; wrk -t1 pinned to CPU 1. Objects 4 KiB x 256, 1 MiB x 64, 64 MiB x 4, written
 * through the gateway with PutObject. The gateway is read with SigV4 presigned URLs, nginx
 * with the same paths unsigned; a wrk Lua script rotates round-robin through the objects.
 * For each class and connection count: a 2 s warm-up per server, then BENCH_RUNS runs of
 * BENCH_RUN_SECONDS each (servers interleaved); medians are reported.
 *
 * Scenario 2, "delayed": the real gateway built in-process from dist/src in a child
 * (bench/cache-delayed-gateway.ts) whose store waits 20 ms before every stat() and read()
 * (bench/cache-delayed-origin.ts). Cold-miss latency (first GET of never-read 4 KiB objects,
 * sequential, one connection, from Node), the origin latency (20 ms + reading the file), and
 * the warm latency (wrk -c1 -t1 on the now-cached objects).
 *
 * Exit code: 0 whatever the targets say (a benchmark); 1 on an error (data mismatch, HTTP
 * error, a server that died); 130/143 when interrupted. See bench/README.md.
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { BenchError, envInt, envList, MiB, runBench } from './lib/bench-run';
import { Child, choosePinning, ensureTools, freePort, pinSelf, waitForHttp, type Pinning, type Tools } from './lib/processes';
import { startNginx, type Nginx } from './lib/nginx';
import { runWrk, wrkScript, type WrkResult } from './lib/wrk';
import { httpRequest } from './lib/http-request';
import { metricSum, scrapeMetrics, type MetricSamples } from './lib/metrics-scrape';
import { fmt, median, percentile, table } from './lib/numbers';
import { openWorkDir } from './lib/work-dir';
import { pool } from './lib/pool';
import { BENCH_CREDENTIALS as CREDENTIALS, benchS3Client } from './lib/s3-client';

const BUCKET = 'bench';
const GATEWAY_CLI = path.resolve(__dirname, '../src/cli/ringcache.js');
const DELAYED_GATEWAY = path.resolve(__dirname, 'cache-delayed-gateway.js');
const PRESIGN_SECONDS = 3600;

// Targets of issue #3.
const TARGET_SMALL_VS_NGINX = 0.3; // 4 KiB req/s
const TARGET_LARGE_VS_NGINX_OFF = 0.8; // 1 MiB and 64 MiB MiB/s, vs nginx sendfile off
const TARGET_COLD_OVERHEAD_MS = 2; // cold miss <= origin + 2 ms
const TARGET_WARM_SPEEDUP = 20; // origin / warm >= 20

// ---------------------------------------------------------------------------------------
// Settings

interface ObjectClass {
  id: string;
  label: string;
  size: number;
  count: number;
}

const CLASSES: ObjectClass[] = [
  { id: '4k', label: '4 KiB', size: 4 * 1024, count: 256 },
  { id: '1m', label: '1 MiB', size: MiB, count: 64 },
  { id: '64m', label: '64 MiB', size: 64 * MiB, count: 4 },
];

type Scenario = 'throughput' | 'delayed';

interface Settings {
  classes: ObjectClass[];
  conns: number[];
  runSeconds: number;
  runs: number;
  warmupSeconds: number;
  coldObjects: number;
  originDelayMs: number;
  scenarios: Set<Scenario>;
  tmpParent: string;
  nodeArgs: string[];
  wrkTimeout: string;
  keep: boolean;
}

function readSettings(): Settings {
  const classIds = envList('BENCH_CLASSES', CLASSES.map((c) => c.id)).map((id) => id.replace(/i?b$/, ''));
  const classes = classIds.map((id) => {
    const found = CLASSES.find((c) => c.id === id);
    if (!found) throw new BenchError(`BENCH_CLASSES: unknown class "${id}" (use ${CLASSES.map((c) => c.id).join(', ')})`);
    return found;
  });
  const conns = envList('BENCH_CONNS', ['16', '64']).map((c) => {
    if (!/^\d+$/.test(c) || Number(c) < 1) throw new BenchError(`BENCH_CONNS: "${c}" is not a connection count`);
    return Number(c);
  });
  const scenarios = new Set(
    envList('BENCH_SCENARIOS', ['throughput', 'delayed']).map((s) => {
      if (s !== 'throughput' && s !== 'delayed') throw new BenchError(`BENCH_SCENARIOS: unknown scenario "${s}" (throughput, delayed)`);
      return s as Scenario;
    }),
  );
  return {
    classes: CLASSES.filter((c) => classes.includes(c)),
    conns,
    runSeconds: envInt('BENCH_RUN_SECONDS', 5, 1),
    runs: envInt('BENCH_RUNS', 3, 1),
    warmupSeconds: envInt('BENCH_WARMUP_SECONDS', 2, 0),
    coldObjects: envInt('BENCH_COLD_OBJECTS', 50, 1),
    originDelayMs: envInt('BENCH_ORIGIN_DELAY_MS', 20, 0),
    scenarios,
    tmpParent: process.env.BENCH_TMPDIR || os.tmpdir(),
    nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    wrkTimeout: process.env.BENCH_WRK_TIMEOUT || '60s',
    keep: process.env.BENCH_KEEP_DATA === '1',
  };
}

// ---------------------------------------------------------------------------------------
// Gateways

interface Gateway {
  child: Child;
  url: string;
  host: string;
}

interface Context {
  settings: Settings;
  tools: Tools;
  pinning: Pinning;
  work: string;
  log: (line: string) => void;
}

/** `cli`: `node dist/src/cli/ringcache.js serve`; `delayed`: the in-process gateway over a delayed origin. */
async function startGateway(ctx: Context, kind: 'cli' | 'delayed', dataDir: string, cacheDir: string): Promise<Gateway> {
  const port = await freePort();
  const script = kind === 'cli' ? [GATEWAY_CLI, 'serve'] : [DELAYED_GATEWAY];
  const command = [...ctx.pinning.server, process.execPath, ...ctx.settings.nodeArgs, ...script];
  ctx.log(`starting ${kind === 'cli' ? 'gateway' : 'delayed-origin gateway'}: ${command.join(' ')}`);
  const child = Child.spawn(kind === 'cli' ? 'gateway' : 'delayed-origin gateway', command, {
    env: {
      ...process.env,
      RINGCACHE_HOST: '127.0.0.1',
      RINGCACHE_PORT: String(port),
      RINGCACHE_DATA_DIR: dataDir,
      RINGCACHE_CACHE_DIR: cacheDir,
      RINGCACHE_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      RINGCACHE_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      RINGCACHE_LOG_LEVEL: 'warn',
      BENCH_ORIGIN_DELAY_MS: String(ctx.settings.originDelayMs),
    },
  });
  const host = `127.0.0.1:${port}`;
  try {
    await waitForHttp(child, `http://${host}/_ringcache/healthz`);
  } catch (err) {
    await child.stop();
    throw err;
  }
  ctx.log(`  pid ${child.pid} at http://${host}`);
  return { child, url: `http://${host}`, host };
}

interface BenchObject {
  key: string;
  size: number;
  sha256: string;
  /** /bench/<key>: nginx's path, and the gateway's before signing. */
  path: string;
  /** Path + query of the presigned GET. */
  signedPath: string;
}

/** Writes random objects with PutObject and presigns a GET for each. */
async function putObjects(s3: S3Client, gateway: Gateway, specs: { key: string; size: number }[], concurrency: number): Promise<BenchObject[]> {
  const out: BenchObject[] = [];
  await pool(specs, concurrency, async ({ key, size }, i) => {
    const body = randomBytes(size);
    const sha256 = createHash('sha256').update(body).digest('hex');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentLength: size }));
    out[i] = { key, size, sha256, path: `/${BUCKET}/${key}`, signedPath: await presign(s3, gateway, key, 'GET') };
  });
  return out;
}

async function presign(s3: S3Client, gateway: Gateway, key: string, method: 'GET' | 'HEAD'): Promise<string> {
  const command = method === 'GET' ? new GetObjectCommand({ Bucket: BUCKET, Key: key }) : new HeadObjectCommand({ Bucket: BUCKET, Key: key });
  const url = new URL(await getSignedUrl(s3, command, { expiresIn: PRESIGN_SECONDS }));
  if (url.host !== gateway.host) throw new BenchError(`presigned for host ${url.host}, the gateway is ${gateway.host}`);
  return url.pathname + url.search;
}

/** GET `url`, compare size and SHA-256. */
async function verify(label: string, url: string, object: BenchObject, agent: http.Agent): Promise<void> {
  const res = await httpRequest(url, { agent, hash: true });
  if (res.status !== 200) throw new BenchError(`${label}: GET ${object.path} answered ${res.status}${res.body ? `: ${res.body}` : ''}`);
  if (res.bytes !== object.size || res.sha256 !== object.sha256) {
    throw new BenchError(`DATA MISMATCH (${label}) on ${object.path}: ${res.bytes} bytes, sha256 ${res.sha256}; written ${object.size} bytes, sha256 ${object.sha256}`);
  }
}

// ---------------------------------------------------------------------------------------
// Scenario 1: throughput

type ServerId = 'nginx-on' | 'nginx-off' | 'gateway';
const SERVER_LABEL: Record<ServerId, string> = { 'nginx-on': 'nginx sendfile on', 'nginx-off': 'nginx sendfile off', gateway: 'gateway (warm)' };

interface Cell {
  cls: ObjectClass;
  conns: number;
  server: ServerId;
  runs: WrkResult[];
  reqPerSec: number;
  mibPerSec: number;
}

interface ThroughputResult {
  cells: Cell[];
  cache: { ufsReads: number; ufsStats: number; served: Record<string, number>; gets: number; wrkRequests: number };
}

async function scenarioThroughput(ctx: Context): Promise<ThroughputResult> {
  const { settings, log } = ctx;
  const dataDir = path.join(ctx.work, 'data');
  const cacheDir = path.join(ctx.work, 'cache');
  log('\n== scenario 1: warm GET throughput, gateway vs nginx ==');
  const gateway = await startGateway(ctx, 'cli', dataDir, cacheDir);
  const s3 = benchS3Client(gateway.url, { plainChecksums: true });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const nginx: Nginx[] = [];
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const objects = new Map<ObjectClass, BenchObject[]>();
    for (const cls of settings.classes) {
      const t0 = performance.now();
      const specs = Array.from({ length: cls.count }, (_, i) => ({ key: `c${cls.id}/obj-${String(i).padStart(4, '0')}`, size: cls.size }));
      objects.set(cls, await putObjects(s3, gateway, specs, cls.size >= 64 * MiB ? 2 : 16));
      log(`wrote ${cls.count} x ${cls.label} with PutObject in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }

    const probe = objects.get(settings.classes[0])![0].path;
    for (const sendfile of [true, false]) {
      const n = await startNginx(ctx.tools.nginx, ctx.pinning, ctx.work, dataDir, sendfile, probe);
      nginx.push(n);
      log(`started nginx (sendfile ${sendfile ? 'on' : 'off'}): pid ${n.child.pid}, worker ${n.child.extraPids.join(' ') || '?'}, http://${n.host}`);
    }
    const [nginxOn, nginxOff] = nginx;

    // Correctness, and the warm-up pass: every object once through the gateway (and nginx).
    const t0 = performance.now();
    for (const cls of settings.classes) {
      await pool(objects.get(cls)!, 4, async (o) => {
        await verify('gateway', `${gateway.url}${o.signedPath}`, o, agent);
        await verify('nginx sendfile on', `http://${nginxOn.host}${o.path}`, o, agent);
        await verify('nginx sendfile off', `http://${nginxOff.host}${o.path}`, o, agent);
      });
    }
    log(`verified SHA-256 of every object through the gateway (presigned GET) and both nginx in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const servers: { id: ServerId; host: string; child: Child; paths: (o: BenchObject) => string }[] = [
      { id: 'nginx-on', host: nginxOn.host, child: nginxOn.child, paths: (o) => o.path },
      { id: 'nginx-off', host: nginxOff.host, child: nginxOff.child, paths: (o) => o.path },
      { id: 'gateway', host: gateway.host, child: gateway.child, paths: (o) => o.signedPath },
    ];
    const scripts = new Map<string, string>();
    for (const cls of settings.classes) {
      for (const server of servers) {
        const file = path.join(ctx.work, `wrk-${server.id}-${cls.id}.lua`);
        await writeFile(file, wrkScript(objects.get(cls)!.map(server.paths), server.host));
        scripts.set(`${server.id}/${cls.id}`, file);
      }
    }

    const before = await scrapeMetrics(gateway.url);
    let wrkGatewayRequests = 0;
    const cells: Cell[] = [];
    const total = settings.classes.length * settings.conns.length * servers.length * (settings.runs * settings.runSeconds + settings.warmupSeconds);
    log(`measuring: ${settings.classes.length} classes x ${settings.conns.length} connection counts x ${servers.length} servers x (${settings.warmupSeconds} s warm-up + ${settings.runs} x ${settings.runSeconds} s) = about ${Math.round(total)} s`);
    for (const cls of settings.classes) {
      for (const conns of settings.conns) {
        const run = async (server: (typeof servers)[number], seconds: number): Promise<WrkResult> => {
          const result = await runWrk({ wrk: ctx.tools.wrk, pinning: ctx.pinning, script: scripts.get(`${server.id}/${cls.id}`)!, host: server.host, connections: conns, seconds, timeout: settings.wrkTimeout });
          server.child.assertAlive();
          const e = result.errors;
          if (e.status > 0 || e.connect > 0) throw new BenchError(`${SERVER_LABEL[server.id]}: ${e.status} non-2xx/3xx responses, ${e.connect} connect errors in a wrk run\n${result.text}`);
          if (server.id === 'gateway') wrkGatewayRequests += result.requests;
          return result;
        };
        if (settings.warmupSeconds > 0) {
          for (const server of servers) await run(server, settings.warmupSeconds);
        }
        const runs = new Map<ServerId, WrkResult[]>(servers.map((s) => [s.id, []]));
        for (let r = 1; r <= settings.runs; r++) {
          for (const server of servers) {
            const result = await run(server, settings.runSeconds);
            runs.get(server.id)!.push(result);
            const e = result.errors;
            const errs = e.read + e.write + e.timeout > 0 ? `  errors read ${e.read} write ${e.write} timeout ${e.timeout}` : '';
            log(
              `  ${cls.label.padStart(6)} c${String(conns).padEnd(3)} run ${r}/${settings.runs} ${SERVER_LABEL[server.id].padEnd(18)} ${fmt(result.reqPerSec).padStart(8)} req/s ${fmt(result.mibPerSec, 1).padStart(8)} MiB/s  p50 ${fmt(result.p50Ms, 2)} ms  p99 ${fmt(result.p99Ms, 2)} ms  CPU busy: server ${fmt(result.cpuBusy[0] ?? NaN)}% wrk ${fmt(result.cpuBusy[1] ?? NaN)}%${errs}`,
            );
          }
        }
        for (const server of servers) {
          const list = runs.get(server.id)!;
          cells.push({ cls, conns, server: server.id, runs: list, reqPerSec: median(list.map((x) => x.reqPerSec)), mibPerSec: median(list.map((x) => x.mibPerSec)) });
        }
      }
    }
    const after = await scrapeMetrics(gateway.url);
    const delta = (name: string, match: Record<string, string> = {}): number => metricSum(after, name, match) - metricSum(before, name, match);
    return {
      cells,
      cache: {
        ufsReads: delta('ringcache_ufs_reads_total'),
        ufsStats: delta('ringcache_ufs_stats_total'),
        served: Object.fromEntries(['memory', 'disk', 'ufs'].map((tier) => [tier, delta('ringcache_cache_bytes_served_total', { tier })])),
        gets: delta('ringcache_s3_requests_total', { op: 'GetObject' }),
        wrkRequests: wrkGatewayRequests,
      },
    };
  } finally {
    agent.destroy();
    s3.destroy();
    for (const n of nginx) await n.child.stop();
    await gateway.child.stop(); // SIGTERM: a clean shutdown (and --cpu-prof writes its profile)
  }
}

// ---------------------------------------------------------------------------------------
// Scenario 2: delayed origin

/** Server-side means over a phase, from the gateway's histograms. */
interface PhaseTimes {
  /** ringcache_s3_request_duration_seconds of GetObject: request to end of response, inside the gateway. */
  serverGetMs: number;
  /** ringcache_ufs_read_seconds: one page read from the store (the delay included). */
  storeReadMs: number;
}

function phaseTimes(a: MetricSamples, b: MetricSamples): PhaseTimes {
  const d = (name: string, match: Record<string, string> = {}): number => metricSum(b, name, match) - metricSum(a, name, match);
  const mean = (base: string, match: Record<string, string> = {}): number => (1000 * d(`${base}_sum`, match)) / d(`${base}_count`, match);
  return { serverGetMs: mean('ringcache_s3_request_duration_seconds', { op: 'GetObject' }), storeReadMs: mean('ringcache_ufs_read_seconds') };
}

interface DelayedResult {
  objects: number;
  coldTimes: PhaseTimes;
  headFirstTimes: PhaseTimes;
  warmTimes: PhaseTimes;
  originMs: number[];
  coldMs: number[];
  coldStatsPerGet: number;
  coldReadsPerGet: number;
  headFirstMs: number[];
  headFirstStatsPerGet: number;
  headFirstReadsPerGet: number;
  warmWrk: WrkResult;
  warmNodeMs: number[];
  warmUfsCalls: number;
}

async function scenarioDelayed(ctx: Context): Promise<DelayedResult> {
  const { settings, log } = ctx;
  const dataDir = path.join(ctx.work, 'delayed-data');
  const cacheDir = path.join(ctx.work, 'delayed-cache');
  log(`\n== scenario 2: ${settings.originDelayMs} ms first-byte origin: cold miss, warm hit ==`);
  const gateway = await startGateway(ctx, 'delayed', dataDir, cacheDir);
  const s3 = benchS3Client(gateway.url, { plainChecksums: true });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 }); // one connection, sequential
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const n = settings.coldObjects;
    const spec = (prefix: string) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}/obj-${String(i).padStart(4, '0')}`, size: 4096 }));
    const cold = await putObjects(s3, gateway, spec('cold'), 8);
    const headFirst = await putObjects(s3, gateway, spec('headfirst'), 8);
    log(`wrote ${2 * n} x 4 KiB with PutObject (never read)`);

    // The origin: the same delay mechanism (a timer), then reading the file directly.
    const originMs: number[] = [];
    for (const o of cold) {
      const t0 = performance.now();
      await sleep(settings.originDelayMs);
      const bytes = await readFile(path.join(dataDir, BUCKET, o.key));
      originMs.push(performance.now() - t0);
      if (bytes.length !== o.size) throw new BenchError(`${o.key}: read ${bytes.length} bytes from the data dir`);
    }

    await httpRequest(`${gateway.url}/_ringcache/healthz`, { agent }); // open the connection first
    const m0 = await scrapeMetrics(gateway.url);
    const coldMs: number[] = [];
    for (const o of cold) {
      const res = await httpRequest(`${gateway.url}${o.signedPath}`, { agent, hash: true });
      if (res.status !== 200 || res.sha256 !== o.sha256) throw new BenchError(`cold GET ${o.key}: status ${res.status}, sha256 ${res.sha256} (expected ${o.sha256})${res.body ? `: ${res.body}` : ''}`);
      coldMs.push(res.ms);
    }
    const m1 = await scrapeMetrics(gateway.url);

    // Diagnostic: the page miss alone (metadata already cached by a HEAD just before).
    const headFirstMs: number[] = [];
    let headFirstUfs = { stats: 0, reads: 0 };
    const headFirstServer = { getSeconds: 0, gets: 0, readSeconds: 0, reads: 0 };
    for (const o of headFirst) {
      const head = await httpRequest(`${gateway.url}${await presign(s3, gateway, o.key, 'HEAD')}`, { agent, method: 'HEAD' });
      if (head.status !== 200) throw new BenchError(`HEAD ${o.key}: status ${head.status}`);
      const a = await scrapeMetrics(gateway.url);
      const res = await httpRequest(`${gateway.url}${o.signedPath}`, { agent, hash: true });
      const b = await scrapeMetrics(gateway.url);
      if (res.status !== 200 || res.sha256 !== o.sha256) throw new BenchError(`GET after HEAD ${o.key}: status ${res.status}, sha256 ${res.sha256}`);
      headFirstMs.push(res.ms);
      headFirstUfs = {
        stats: headFirstUfs.stats + metricSum(b, 'ringcache_ufs_stats_total') - metricSum(a, 'ringcache_ufs_stats_total'),
        reads: headFirstUfs.reads + metricSum(b, 'ringcache_ufs_reads_total') - metricSum(a, 'ringcache_ufs_reads_total'),
      };
      const get = { op: 'GetObject' };
      headFirstServer.getSeconds += metricSum(b, 'ringcache_s3_request_duration_seconds_sum', get) - metricSum(a, 'ringcache_s3_request_duration_seconds_sum', get);
      headFirstServer.gets += metricSum(b, 'ringcache_s3_request_duration_seconds_count', get) - metricSum(a, 'ringcache_s3_request_duration_seconds_count', get);
      headFirstServer.readSeconds += metricSum(b, 'ringcache_ufs_read_seconds_sum') - metricSum(a, 'ringcache_ufs_read_seconds_sum');
      headFirstServer.reads += metricSum(b, 'ringcache_ufs_read_seconds_count') - metricSum(a, 'ringcache_ufs_read_seconds_count');
    }

    // Warm: the cold objects are cached now (and their metadata is fresh for 60 s).
    const m2 = await scrapeMetrics(gateway.url);
    const script = path.join(ctx.work, 'wrk-delayed-warm.lua');
    await writeFile(script, wrkScript(cold.map((o) => o.signedPath), gateway.host));
    const warmWrk = await runWrk({ wrk: ctx.tools.wrk, pinning: ctx.pinning, script, host: gateway.host, connections: 1, seconds: settings.runSeconds, timeout: settings.wrkTimeout });
    gateway.child.assertAlive();
    if (warmWrk.errors.status > 0 || warmWrk.errors.connect > 0) throw new BenchError(`warm wrk run: ${warmWrk.errors.status} non-2xx/3xx, ${warmWrk.errors.connect} connect errors\n${warmWrk.text}`);
    log(`  warm wrk -c1: ${fmt(warmWrk.reqPerSec)} req/s, p50 ${fmt(warmWrk.p50Ms, 3)} ms, p99 ${fmt(warmWrk.p99Ms, 3)} ms`);
    const warmNodeMs: number[] = [];
    for (let i = 0; i < 10 * n; i++) {
      const o = cold[i % n];
      const res = await httpRequest(`${gateway.url}${o.signedPath}`, { agent });
      if (res.status !== 200 || res.bytes !== o.size) throw new BenchError(`warm GET ${o.key}: status ${res.status}, ${res.bytes} bytes`);
      warmNodeMs.push(res.ms);
    }
    const m3 = await scrapeMetrics(gateway.url);
    const d = (a: MetricSamples, b: MetricSamples, name: string): number => metricSum(b, name) - metricSum(a, name);
    return {
      objects: n,
      coldTimes: phaseTimes(m0, m1),
      headFirstTimes: { serverGetMs: (1000 * headFirstServer.getSeconds) / headFirstServer.gets, storeReadMs: (1000 * headFirstServer.readSeconds) / headFirstServer.reads },
      warmTimes: phaseTimes(m2, m3),
      originMs,
      coldMs,
      coldStatsPerGet: d(m0, m1, 'ringcache_ufs_stats_total') / n,
      coldReadsPerGet: d(m0, m1, 'ringcache_ufs_reads_total') / n,
      headFirstMs,
      headFirstStatsPerGet: headFirstUfs.stats / n,
      headFirstReadsPerGet: headFirstUfs.reads / n,
      warmWrk,
      warmNodeMs,
      warmUfsCalls: d(m2, m3, 'ringcache_ufs_stats_total') + d(m2, m3, 'ringcache_ufs_reads_total'),
    };
  } finally {
    agent.destroy();
    s3.destroy();
    await gateway.child.stop();
  }
}

// ---------------------------------------------------------------------------------------
// Report

interface Verdict {
  what: string;
  value: string;
  target: string;
  ratio: number;
  pass: boolean;
}

/** wrk's core this busy means wrk, not the server, set the pace. */
const WRK_BOUND_PERCENT = 95;
const wrkBound = (c: Cell): boolean => c.runs.filter((r) => (r.cpuBusy[1] ?? 0) >= WRK_BOUND_PERCENT).length > c.runs.length / 2;

function reportThroughput(settings: Settings, t: ThroughputResult, verdicts: Verdict[]): string[] {
  const out: string[] = [];
  const cell = (cls: ObjectClass, conns: number, server: ServerId): Cell => t.cells.find((c) => c.cls === cls && c.conns === conns && c.server === server)!;
  /** 4 KiB is about requests; larger objects about bytes. */
  const byBytes = (cls: ObjectClass): boolean => cls.size >= MiB;
  const ratio = (cls: ObjectClass, a: Cell, b: Cell): number => (byBytes(cls) ? a.mibPerSec / b.mibPerSec : a.reqPerSec / b.reqPerSec);
  const mark = (c: Cell): string => (wrkBound(c) ? '*' : ' ');
  const pair = (c: Cell): [string, string] => [fmt(c.reqPerSec) + mark(c), fmt(c.mibPerSec, 1) + mark(c)];
  const rows: string[][] = [];
  for (const cls of settings.classes) {
    for (const conns of settings.conns) {
      const on = cell(cls, conns, 'nginx-on');
      const off = cell(cls, conns, 'nginx-off');
      const gw = cell(cls, conns, 'gateway');
      const unit = byBytes(cls) ? 'MiB/s' : 'req/s';
      rows.push([cls.label, String(conns), ...pair(on), ...pair(off), ...pair(gw), `${ratio(cls, gw, off).toFixed(2)} (${unit})`, `${ratio(cls, gw, on).toFixed(2)} (${unit})`]);
    }
  }
  out.push(`Warm GET throughput: medians of ${settings.runs} wrk runs of ${settings.runSeconds} s (wrk -t1 --latency, round-robin over the objects; MiB/s = bytes received / s, 1 MiB = 1,048,576 B)`);
  out.push('');
  out.push(
    table(
      ['class', 'conns', 'nginx sf on req/s', 'MiB/s', 'nginx sf off req/s', 'MiB/s', 'gateway warm req/s', 'MiB/s', 'gateway / nginx sf off', 'gateway / nginx sf on'],
      rows,
    ),
  );
  if (t.cells.some(wrkBound)) {
    out.push(`* wrk's core was >= ${WRK_BOUND_PERCENT}% busy in most runs of that cell: the load generator was the limit, so the figure is a lower bound for that server (and a ratio against it is inflated or deflated accordingly).`);
  }
  out.push('');
  out.push('Every run (req/s; p50 latency; CPU busy % of the server core / of the wrk core):');
  const detail: string[][] = [];
  for (const c of t.cells) {
    const spread = c.runs.length > 1 ? (100 * (Math.max(...c.runs.map((r) => r.reqPerSec)) - Math.min(...c.runs.map((r) => r.reqPerSec)))) / c.reqPerSec : 0;
    detail.push([
      c.cls.label,
      String(c.conns),
      SERVER_LABEL[c.server],
      c.runs.map((r) => fmt(r.reqPerSec)).join(' / '),
      `${spread.toFixed(1)}%`,
      c.runs.map((r) => fmt(r.p50Ms, 2)).join(' / '),
      c.runs.map((r) => `${fmt(r.cpuBusy[0] ?? NaN)}/${fmt(r.cpuBusy[1] ?? NaN)}`).join('  '),
      String(c.runs.reduce((a, r) => a + r.errors.read + r.errors.write + r.errors.timeout, 0)),
    ]);
  }
  out.push(table(['class', 'conns', 'server', 'req/s per run', 'spread', 'p50 ms per run', 'CPU % server/wrk per run', 'socket errors'], detail, 3));
  out.push('');
  const c = t.cache;
  const gib = (b: number): string => `${(b / 1024 ** 3).toFixed(2)} GiB`;
  out.push(
    `Gateway during the measured runs (warm-ups included): ${fmt(c.gets)} GetObject (wrk completed ${fmt(c.wrkRequests)}); bytes served from memory ${gib(c.served.memory)}, disk ${gib(c.served.disk)}, store ${gib(c.served.ufs)}; store page reads ${fmt(c.ufsReads)}, stats ${fmt(c.ufsStats)} (metadata TTL 60 s)`,
  );

  for (const cls of settings.classes) {
    for (const conns of settings.conns) {
      const gw = cell(cls, conns, 'gateway');
      const on = cell(cls, conns, 'nginx-on');
      const off = cell(cls, conns, 'nginx-off');
      if (byBytes(cls)) {
        const r = gw.mibPerSec / off.mibPerSec;
        verdicts.push({ what: `warm ${cls.label} GET, ${conns} conns: MiB/s vs nginx sendfile off`, value: `${fmt(gw.mibPerSec, 1)}${mark(gw).trim()} vs ${fmt(off.mibPerSec, 1)}${mark(off).trim()} MiB/s`, target: `>= ${TARGET_LARGE_VS_NGINX_OFF}x`, ratio: r, pass: r >= TARGET_LARGE_VS_NGINX_OFF });
      } else {
        const best = on.reqPerSec >= off.reqPerSec ? on : off;
        const r = gw.reqPerSec / best.reqPerSec;
        verdicts.push({
          what: `warm ${cls.label} GET, ${conns} conns: req/s vs the faster nginx (${best === on ? 'sendfile on' : 'sendfile off'})`,
          value: `${fmt(gw.reqPerSec)}${mark(gw).trim()} vs ${fmt(best.reqPerSec)}${mark(best).trim()} req/s`,
          target: `>= ${TARGET_SMALL_VS_NGINX}x`,
          ratio: r,
          pass: r >= TARGET_SMALL_VS_NGINX,
        });
      }
    }
  }
  return out;
}

function reportDelayed(settings: Settings, d: DelayedResult, verdicts: Verdict[]): string[] {
  const out: string[] = [];
  const ms = (v: number): string => `${v.toFixed(3)} ms`;
  const spread = (v: number[]): string => `p10 ${percentile(v, 10).toFixed(2)}, p90 ${percentile(v, 90).toFixed(2)}, max ${Math.max(...v).toFixed(2)}`;
  const inGateway = (t: PhaseTimes): string =>
    `request ${Number.isFinite(t.serverGetMs) ? t.serverGetMs.toFixed(2) : 'n/a'} ms${Number.isFinite(t.storeReadMs) ? `, page read from store ${t.storeReadMs.toFixed(2)} ms` : ''}`;
  const origin = median(d.originMs);
  const coldMed = median(d.coldMs);
  const headFirst = median(d.headFirstMs);
  const warm = d.warmWrk.p50Ms;
  const warmNode = median(d.warmNodeMs);
  out.push(`Delayed origin (${settings.originDelayMs} ms before every stat() and read() that reaches the store), 4 KiB objects, one connection:`);
  out.push('');
  out.push(
    table(
      ['measurement', 'median', 'spread (ms)', 'store calls per GET', 'in the gateway (mean)'],
      [
        [`origin: ${settings.originDelayMs} ms timer + readFile of the data file (${d.objects} objects)`, ms(origin), spread(d.originMs), '-', '-'],
        [`cold miss: first GET of a never-read object, sequential, Node http (${d.objects} objects)`, ms(coldMed), spread(d.coldMs), `stat ${d.coldStatsPerGet.toFixed(2)}, read ${d.coldReadsPerGet.toFixed(2)}`, inGateway(d.coldTimes)],
        [`  diagnostic: first GET right after a HEAD (metadata cached, page not) (${d.objects} objects)`, ms(headFirst), spread(d.headFirstMs), `stat ${d.headFirstStatsPerGet.toFixed(2)}, read ${d.headFirstReadsPerGet.toFixed(2)}`, inGateway(d.headFirstTimes)],
        [`warm hit: wrk -c1 -t1 ${settings.runSeconds} s over the cached objects (${fmt(d.warmWrk.reqPerSec)} req/s)`, ms(warm), `p90 ${d.warmWrk.p90Ms.toFixed(3)}, p99 ${d.warmWrk.p99Ms.toFixed(3)}`, d.warmUfsCalls === 0 ? '0' : `${d.warmUfsCalls} in total`, inGateway(d.warmTimes)],
        [`warm hit: Node http, sequential (${d.warmNodeMs.length} GETs, client overhead included)`, ms(warmNode), spread(d.warmNodeMs), '(same)', '(same)'],
      ],
    ),
  );
  out.push('');
  out.push(`cold miss - origin:   ${ms(coldMed - origin)}   (the gateway's own cost on a miss, including every extra round trip to the store)`);
  out.push(`origin / warm (wrk):  ${(origin / warm).toFixed(1)}x`);
  verdicts.push({ what: 'cold-miss latency - origin latency (4 KiB, 1 conn)', value: `${ms(coldMed)} - ${ms(origin)} = ${ms(coldMed - origin)}`, target: `<= ${TARGET_COLD_OVERHEAD_MS} ms`, ratio: (coldMed - origin) / TARGET_COLD_OVERHEAD_MS, pass: coldMed - origin <= TARGET_COLD_OVERHEAD_MS });
  verdicts.push({ what: 'origin latency / warm latency (p50, wrk -c1)', value: `${ms(origin)} / ${ms(warm)}`, target: `>= ${TARGET_WARM_SPEEDUP}x`, ratio: origin / warm, pass: origin / warm >= TARGET_WARM_SPEEDUP });
  return out;
}

function reportVerdicts(verdicts: Verdict[]): string[] {
  return [
    'Targets (issue #3):',
    '',
    table(
      ['target', 'measured', 'target', 'ratio', 'verdict'],
      verdicts.map((v) => [v.what, v.value, v.target, v.target.includes('ms') ? `${v.ratio.toFixed(2)} of budget` : `${v.ratio.toFixed(2)}x`, v.pass ? 'PASS' : 'SHORT']),
      2,
    ),
  ];
}

// ---------------------------------------------------------------------------------------
// Main, with cleanup on success, error and signals

async function main(): Promise<number> {
  // The SDK's notice about Node 20 would only clutter the output (the gateway is not the SDK).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const settings = readSettings();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const tools = ensureTools(log);
  const cpus = os.availableParallelism();
  const pinning = choosePinning(tools, cpus);
  pinSelf(tools, pinning);

  const workDir = openWorkDir(settings.tmpParent, 'ringcache-cache-bench-', {
    keep: settings.keep,
    log,
    signals: (signal, folder) => `\n${signal}: stopping every server and removing ${folder}`,
  });
  const work = workDir.path;
  await mkdir(path.join(work, 'data'), { recursive: true });

  const ctx: Context = { settings, tools, pinning, work, log };
  const header = [
    `Ringcache cache benchmark (issue #3): node ${process.version}, ${cpus} CPUs (${os.cpus()[0]?.model ?? '?'}), ${os.platform()} ${os.release()}`,
    `${tools.wrk} / ${tools.nginx}; ${pinning.description}`,
    `temp dir ${work}`,
  ];
  console.log(header.join('\n')); // stdout: the report; stderr: progress
  const started = performance.now();
  const out: string[] = [];
  const verdicts: Verdict[] = [];
  try {
    if (settings.scenarios.has('throughput')) {
      const t = await scenarioThroughput(ctx);
      out.push('', ...reportThroughput(settings, t, verdicts));
    }
    if (settings.scenarios.has('delayed')) {
      const d = await scenarioDelayed(ctx);
      out.push('', ...reportDelayed(settings, d, verdicts));
    }
    out.push('', ...reportVerdicts(verdicts));
    out.push('', `total time ${((performance.now() - started) / 1000).toFixed(0)} s; exit code 0 whatever the verdicts (a benchmark, not a test)`);
    console.log(out.join('\n'));
    return 0;
  } catch (err) {
    if (workDir.interrupted) return new Promise<number>(() => undefined); // the signal handler exits
    if (out.length > 0) console.log(out.join('\n'));
    throw err;
  } finally {
    await workDir.cleanup();
    workDir.release();
  }
}

runBench(main);
