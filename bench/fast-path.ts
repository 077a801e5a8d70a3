/**
 * Fast-path benchmark (issue #10): warm GETs and HEADs through Ringcache against nginx and a bare
 * Node server in one interleaved run, and the cold-miss latency over an S3 origin behind a
 * first-byte delay.
 *
 *   npm run bench:fast                       (= npm run build --silent && node dist/bench/fast-path.js)
 *   BENCH_BASELINE=/path/to/old/checkout npm run bench:fast    (adds that build's gateways, memory and disk tier: before/after in one run)
 *
 * Throughput: every server on CPU 0 (taskset), wrk -t1 and this process on CPU 1. For each object
 * class (4 KiB x 256, 1 MiB x 64, 64 MiB x 4) and connection count, a warm-up per target then
 * BENCH_RUNS runs of BENCH_RUN_SECONDS per target, interleaved target by target, medians reported.
 * Targets: nginx static (sendfile on, off) and a bare node:http server answering from memory over
 * the same files; Ringcache with presigned GETs and with Authorization-header GETs (memory-tier
 * hits), presigned GETs on a second gateway without a memory tier (disk-tier hits), presigned
 * HEADs (4 KiB); and the baseline gateway when BENCH_BASELINE names another build.
 *
 * Cold miss: an S3 origin (s3rver, or the S3 endpoint in BENCH_ORIGIN_ENDPOINT) behind a TCP proxy
 * that adds BENCH_ORIGIN_DELAY_MS (20, then 0) of first-byte latency; a gateway whose bucket is an
 * s3:// mount through that proxy. One connection, sequential: the direct read of each 1 MiB
 * object through the proxy (presigned GET), the gateway's first GET of it (cold), and again (warm).
 *
 * Exit code 0 whatever the targets say (a benchmark); 1 on an error (data mismatch, HTTP error,
 * a server that died). See bench/README.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { SignatureV4 } from '@smithy/signature-v4';
import { HttpRequest } from '@smithy/protocol-http';
import { NodeSha256 } from '../src/s3/auth/sha256';
import { BenchError, envInt, envList, MiB, runBench } from './lib/bench-run';
import { Child, choosePinning, ensureTools, freePort, pinSelf, waitForHttp, type Pinning, type Tools } from './lib/processes';
import { startNginx, type Nginx } from './lib/nginx';
import { runWrk, wrkScript, type WrkRequest, type WrkResult } from './lib/wrk';
import { busyPercent, cpuTimes } from './lib/cpu-times';
import { httpRequest } from './lib/http-request';
import { metricSum, scrapeMetrics } from './lib/metrics-scrape';
import { fmt, median, percentile, table } from './lib/numbers';
import { openWorkDir } from './lib/work-dir';
import { pool } from './lib/pool';
import { BENCH_CREDENTIALS as CREDENTIALS, benchS3Client } from './lib/s3-client';
import { DelayProxy } from './lib/delay-proxy';

const BUCKET = 'bench';
const GATEWAY_CLI = path.resolve(__dirname, '../src/cli/ringcache.js');
const BARE_NODE = path.resolve(__dirname, 'lib/bare-node-server.js');
const HEAD_LOAD = path.resolve(__dirname, 'lib/head-load.js');
const PRESIGN_SECONDS = 3600;

/** Targets of issue #10. */
const T = {
  smallVsNginx: 0.35,
  smallVsNginxStretch: 0.5,
  smallVsBare: 0.45,
  smallP99Ms: 5,
  largeMemoryVsBare: 0.75,
  largeDiskVsNginxOff: 0.8,
  headVsNginx: 0.4,
  coldOverOriginMs: 3,
  coldOverDirectNoDelayMs: 2,
  warmSpeedup: 30,
};

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

interface Settings {
  classes: ObjectClass[];
  conns: number[];
  runSeconds: number;
  runs: number;
  warmupSeconds: number;
  scenarios: Set<'throughput' | 'cold'>;
  coldObjects: number;
  originDelays: number[];
  baseline?: string;
  tmpParent: string;
  nodeArgs: string[];
  keep: boolean;
}

function readSettings(): Settings {
  const ids = envList('BENCH_CLASSES', CLASSES.map((c) => c.id));
  for (const id of ids) if (!CLASSES.some((c) => c.id === id)) throw new BenchError(`BENCH_CLASSES: unknown class "${id}" (4k, 1m, 64m)`);
  const scenarios = envList('BENCH_SCENARIOS', ['throughput', 'cold']);
  for (const s of scenarios) if (s !== 'throughput' && s !== 'cold') throw new BenchError(`BENCH_SCENARIOS: unknown scenario "${s}" (throughput, cold)`);
  return {
    classes: CLASSES.filter((c) => ids.includes(c.id)),
    conns: envList('BENCH_CONNS', ['64']).map(Number),
    runSeconds: envInt('BENCH_RUN_SECONDS', 5, 1),
    runs: envInt('BENCH_RUNS', 3, 1),
    warmupSeconds: envInt('BENCH_WARMUP_SECONDS', 2, 0),
    scenarios: new Set(scenarios as ('throughput' | 'cold')[]),
    coldObjects: envInt('BENCH_COLD_OBJECTS', 40, 2),
    originDelays: envList('BENCH_ORIGIN_DELAYS_MS', ['20', '0']).map(Number),
    baseline: process.env.BENCH_BASELINE || undefined,
    tmpParent: process.env.BENCH_TMPDIR || os.tmpdir(),
    nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    keep: process.env.BENCH_KEEP_DATA === '1',
  };
}

interface Context {
  settings: Settings;
  tools: Tools;
  pinning: Pinning;
  work: string;
  log: (line: string) => void;
}

// ---------------------------------------------------------------------------------------
// Servers

interface Gateway {
  name: string;
  child: Child;
  url: string;
  host: string;
}

async function startGateway(ctx: Context, name: string, cli: string, env: Record<string, string>, args: string[] = []): Promise<Gateway> {
  const port = await freePort();
  const command = [...ctx.pinning.server, process.execPath, ...ctx.settings.nodeArgs, cli, 'serve', ...args];
  ctx.log(`starting ${name}: ${command.join(' ')}`);
  const child = Child.spawn(name, command, {
    env: {
      ...process.env,
      RINGCACHE_HOST: '127.0.0.1',
      RINGCACHE_PORT: String(port),
      RINGCACHE_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      RINGCACHE_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      RINGCACHE_LOG_LEVEL: 'warn',
      ...env,
    },
  });
  const host = `127.0.0.1:${port}`;
  await waitForHttp(child, `http://${host}/_ringcache/healthz`).catch(async (err: unknown) => {
    await child.stop();
    throw err;
  });
  return { name, child, url: `http://${host}`, host };
}

async function startBareNode(ctx: Context, root: string): Promise<{ child: Child; host: string }> {
  const port = await freePort();
  const child = Child.spawn('bare node', [...ctx.pinning.server, process.execPath, BARE_NODE, root, String(port)]);
  const host = `127.0.0.1:${port}`;
  await waitForHttp(child, `http://${host}/`, 30_000, 404);
  return { child, host };
}

async function presign(s3: S3Client, key: string, method: 'GET' | 'HEAD', bucket = BUCKET): Promise<string> {
  const command = method === 'GET' ? new GetObjectCommand({ Bucket: bucket, Key: key }) : new HeadObjectCommand({ Bucket: bucket, Key: key });
  const url = new URL(await getSignedUrl(s3, command, { expiresIn: PRESIGN_SECONDS }));
  return url.pathname + url.search;
}

/** An Authorization-header GET as the SDKs send it (valid for the 15 minutes of allowed skew). */
async function headerSigned(host: string, key: string): Promise<WrkRequest> {
  const signer = new SignatureV4({ service: 's3', region: 'us-east-1', credentials: CREDENTIALS, sha256: NodeSha256, uriEscapePath: false });
  const [hostname, port] = host.split(':');
  const request = new HttpRequest({ method: 'GET', protocol: 'http:', hostname, port: Number(port), path: `/${BUCKET}/${key}`, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const signed = await signer.sign(request);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') headers[name] = value;
  return { path: `/${BUCKET}/${key}`, headers };
}

/** The CLI of another build (a checkout with dist/ built): where it is in that build's layout. */
function baselineCli(checkout: string): string {
  const candidates = ['dist/src/cli/ringcache.js', 'dist/src/cli.js'].map((p) => path.join(checkout, p));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new BenchError(`BENCH_BASELINE: no built CLI in ${checkout} (run npm ci && npm run build there)`);
  return found;
}

// ---------------------------------------------------------------------------------------
// Scenario 1: throughput

interface BenchObject {
  key: string;
  size: number;
  sha256: string;
}

/** What wrk is pointed at: a server and how each object is asked of it. */
interface Target {
  id: string;
  label: string;
  host: string;
  child: Child;
  classes: (cls: ObjectClass) => boolean;
  /** Requests for the objects of a class (built just before each cell: header signatures age). */
  requests: (objects: BenchObject[]) => Promise<WrkRequest[]>;
  /** Answers HEAD: compared on req/s with the GET targets. */
  head?: boolean;
}

interface Cell {
  cls: ObjectClass;
  conns: number;
  target: Target;
  runs: WrkResult[];
  reqPerSec: number;
  mibPerSec: number;
  p99Ms: number;
}

async function verify(label: string, url: string, object: BenchObject, agent: http.Agent): Promise<void> {
  const res = await httpRequest(url, { agent, hash: true });
  if (res.status !== 200) throw new BenchError(`${label}: GET answered ${res.status}${res.body ? `: ${res.body}` : ''}`);
  if (res.bytes !== object.size || res.sha256 !== object.sha256) throw new BenchError(`DATA MISMATCH (${label}) on ${object.key}: ${res.bytes} bytes, sha256 ${res.sha256}`);
}

async function scenarioThroughput(ctx: Context): Promise<{ cells: Cell[]; counters: string[] }> {
  const { settings, log } = ctx;
  log('\n== throughput: warm GETs, Ringcache vs nginx vs bare Node ==');
  const dataDir = path.join(ctx.work, 'data');
  const main = await startGateway(ctx, 'ringcache', GATEWAY_CLI, { RINGCACHE_DATA_DIR: dataDir, RINGCACHE_CACHE_DIR: path.join(ctx.work, 'cache-main') });
  const stopping: { stop(): Promise<void> }[] = [main.child];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const s3 = benchS3Client(main.url, { plainChecksums: true });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const objects = new Map<ObjectClass, BenchObject[]>();
    for (const cls of settings.classes) {
      const list: BenchObject[] = [];
      await pool(Array.from({ length: cls.count }, (_, i) => i), cls.size >= 64 * MiB ? 2 : 16, async (i) => {
        const body = randomBytes(cls.size);
        const key = `c${cls.id}/obj-${String(i).padStart(4, '0')}`;
        await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentLength: cls.size }));
        list[i] = { key, size: cls.size, sha256: createHash('sha256').update(body).digest('hex') };
      });
      objects.set(cls, list);
      log(`wrote ${cls.count} x ${cls.label}`);
    }
    // The disk-tier gateway (no memory tier) and the baseline build read the same files.
    const disk = await startGateway(ctx, 'ringcache (disk tier only)', GATEWAY_CLI, { RINGCACHE_DATA_DIR: dataDir, RINGCACHE_CACHE_DIR: path.join(ctx.work, 'cache-disk'), RINGCACHE_CACHE_MEMORY_BYTES: '0' });
    stopping.push(disk.child);
    const baseline = settings.baseline
      ? await startGateway(ctx, 'baseline', baselineCli(settings.baseline), { RINGCACHE_DATA_DIR: dataDir, RINGCACHE_CACHE_DIR: path.join(ctx.work, 'cache-baseline') })
      : undefined;
    if (baseline) stopping.push(baseline.child);
    const baselineDisk = settings.baseline
      ? await startGateway(ctx, 'baseline (disk tier only)', baselineCli(settings.baseline), {
          RINGCACHE_DATA_DIR: dataDir,
          RINGCACHE_CACHE_DIR: path.join(ctx.work, 'cache-baseline-disk'),
          RINGCACHE_CACHE_MEMORY_BYTES: '0',
        })
      : undefined;
    if (baselineDisk) stopping.push(baselineDisk.child);
    const probe = `/${BUCKET}/${objects.get(settings.classes[0])![0].key}`;
    const nginx: Nginx[] = [];
    for (const sendfile of [true, false]) nginx.push(await startNginx(ctx.tools.nginx, ctx.pinning, ctx.work, dataDir, sendfile, probe));
    stopping.push(...nginx.map((n) => n.child));
    const bare = await startBareNode(ctx, dataDir);
    stopping.push(bare.child);

    const clients = new Map<Gateway, S3Client>([main, disk, ...(baseline ? [baseline] : []), ...(baselineDisk ? [baselineDisk] : [])].map((g) => [g, benchS3Client(g.url, { plainChecksums: true })]));
    const presigned = (g: Gateway, method: 'GET' | 'HEAD') => async (list: BenchObject[]): Promise<WrkRequest[]> =>
      Promise.all(list.map(async (o) => ({ method, path: await presign(clients.get(g)!, o.key, method) })));
    const plain = async (list: BenchObject[]): Promise<WrkRequest[]> => list.map((o) => `/${BUCKET}/${o.key}`);
    const all = (): boolean => true;
    const targets: Target[] = [
      { id: 'nginx-on', label: 'nginx static, sendfile on', host: nginx[0].host, child: nginx[0].child, classes: all, requests: plain },
      { id: 'nginx-off', label: 'nginx static, sendfile off', host: nginx[1].host, child: nginx[1].child, classes: all, requests: plain },
      { id: 'bare', label: 'bare Node http, from memory', host: bare.host, child: bare.child, classes: all, requests: plain },
      { id: 'rc-presigned', label: 'Ringcache presigned, memory tier', host: main.host, child: main.child, classes: all, requests: presigned(main, 'GET') },
      { id: 'rc-header', label: 'Ringcache Authorization header, memory tier', host: main.host, child: main.child, classes: all, requests: (list) => Promise.all(list.map((o) => headerSigned(main.host, o.key))) },
      { id: 'rc-disk', label: 'Ringcache presigned, disk tier', host: disk.host, child: disk.child, classes: all, requests: presigned(disk, 'GET') },
      { id: 'rc-head', label: 'Ringcache HeadObject presigned', host: main.host, child: main.child, classes: (c) => c.size < MiB, requests: presigned(main, 'HEAD'), head: true },
      ...(baseline ? [{ id: 'baseline', label: `baseline build (${path.basename(settings.baseline!)}) presigned, memory tier`, host: baseline.host, child: baseline.child, classes: all, requests: presigned(baseline, 'GET') }] : []),
      ...(baselineDisk ? [{ id: 'baseline-disk', label: `baseline build (${path.basename(settings.baseline!)}) presigned, disk tier`, host: baselineDisk.host, child: baselineDisk.child, classes: all, requests: presigned(baselineDisk, 'GET') }] : []),
    ];

    // Correctness, and every cache's warm-up: each object once through each GET target.
    for (const cls of settings.classes) {
      const list = objects.get(cls)!;
      for (const t of targets.filter((x) => !x.head && x.classes(cls))) {
        const requests = await t.requests(list);
        await pool(list.map((o, i) => [o, requests[i]] as const), 4, async ([o, r]) => {
          if (typeof r !== 'string' && r.headers) {
            const res = await new Promise<{ status: number; bytes: number; sha256: string }>((resolve, reject) => {
              const req = http.request({ host: t.host.split(':')[0], port: t.host.split(':')[1], path: r.path, headers: { ...r.headers, host: t.host }, agent }, (answer) => {
                const hash = createHash('sha256');
                let bytes = 0;
                answer.on('data', (c: Buffer) => {
                  bytes += c.length;
                  hash.update(c);
                });
                answer.on('end', () => resolve({ status: answer.statusCode ?? 0, bytes, sha256: hash.digest('hex') }));
              });
              req.on('error', reject);
              req.end();
            });
            if (res.status !== 200 || res.sha256 !== o.sha256) throw new BenchError(`${t.label}: ${o.key} answered ${res.status}, sha256 ${res.sha256}`);
          } else {
            await verify(t.label, `http://${t.host}${typeof r === 'string' ? r : r.path}`, o, agent);
          }
        });
      }
      log(`verified every ${cls.label} object through every GET target (and warmed the caches)`);
    }
    // The disk-tier gateway's pages must be on disk before it is measured.
    await new Promise((r) => setTimeout(r, 2000));

    const before = await Promise.all([main, disk].map((g) => scrapeMetrics(g.url)));
    const cells: Cell[] = [];
    for (const cls of settings.classes) {
      for (const conns of settings.conns) {
        const active = targets.filter((t) => t.classes(cls));
        const scripts = new Map<Target, string>();
        for (const t of active) {
          const requests = await t.requests(objects.get(cls)!);
          const file = path.join(ctx.work, `load-${t.id}-${cls.id}.${t.head ? 'json' : 'lua'}`);
          await writeFile(file, t.head ? JSON.stringify(requests.map((r) => (typeof r === 'string' ? r : r.path))) : wrkScript(requests, t.host));
          scripts.set(t, file);
        }
        const run = async (t: Target, seconds: number): Promise<WrkResult> => {
          const result = t.head
            ? await runHeadLoad(ctx, t.host, scripts.get(t)!, conns, seconds)
            : await runWrk({ wrk: ctx.tools.wrk, pinning: ctx.pinning, script: scripts.get(t)!, host: t.host, connections: conns, seconds, timeout: '60s' });
          t.child.assertAlive();
          if (result.errors.status > 0 || result.errors.connect > 0) throw new BenchError(`${t.label}: ${result.errors.status} error statuses, ${result.errors.connect} connect errors\n${result.text}`);
          return result;
        };
        if (settings.warmupSeconds > 0) for (const t of active) await run(t, settings.warmupSeconds);
        const runs = new Map<Target, WrkResult[]>(active.map((t) => [t, []]));
        for (let r = 1; r <= settings.runs; r++) {
          for (const t of active) {
            const result = await run(t, settings.runSeconds);
            runs.get(t)!.push(result);
            log(`  ${cls.label.padStart(6)} c${conns} run ${r}/${settings.runs} ${t.label.padEnd(46)} ${fmt(result.reqPerSec).padStart(8)} req/s ${fmt(result.mibPerSec, 1).padStart(8)} MiB/s  p99 ${fmt(result.p99Ms, 2)} ms  CPU server ${fmt(result.cpuBusy[0] ?? NaN)}% wrk ${fmt(result.cpuBusy[1] ?? NaN)}%`);
          }
        }
        for (const t of active) {
          const list = runs.get(t)!;
          cells.push({ cls, conns, target: t, runs: list, reqPerSec: median(list.map((x) => x.reqPerSec)), mibPerSec: median(list.map((x) => x.mibPerSec)), p99Ms: median(list.map((x) => x.p99Ms)) });
        }
      }
    }
    const after = await Promise.all([main, disk].map((g) => scrapeMetrics(g.url)));
    const counters = [main, disk].map((g, i) => {
      const d = (name: string, match: Record<string, string> = {}): number => metricSum(after[i], name, match) - metricSum(before[i], name, match);
      const gib = (n: number): string => `${(n / 1024 ** 3).toFixed(2)} GiB`;
      return `${g.name}: ${fmt(d('ringcache_s3_requests_total'))} requests, ${fmt(d('ringcache_s3_warm_hits_total'))} on the warm-hit path; served from memory ${gib(d('ringcache_cache_bytes_served_total', { tier: 'memory' }))}, disk ${gib(d('ringcache_cache_bytes_served_total', { tier: 'disk' }))}, store ${gib(d('ringcache_cache_bytes_served_total', { tier: 'ufs' }))}; store reads ${fmt(d('ringcache_ufs_reads_total'))}, stats ${fmt(d('ringcache_ufs_stats_total'))}`;
    });
    for (const c of clients.values()) c.destroy();
    return { cells, counters };
  } finally {
    agent.destroy();
    s3.destroy();
    for (const c of stopping.reverse()) await c.stop(); // SIGTERM: --cpu-prof writes its profile
  }
}

/** HEAD load (bench/lib/head-load.ts) on the load generator's core, reported as a wrk result. */
async function runHeadLoad(ctx: Context, host: string, pathsFile: string, connections: number, seconds: number): Promise<WrkResult> {
  const cpu0 = cpuTimes();
  const child = Child.spawn('head load', [...ctx.pinning.client, process.execPath, HEAD_LOAD, host, String(connections), String(seconds), pathsFile], { keepStdout: true });
  await child.exited;
  const cpu1 = cpuTimes();
  if (child.exit?.code !== 0) throw new BenchError(`head load failed${child.describeOutput()}`);
  const j = JSON.parse(child.stdout().trim().split('\n').pop() as string) as { requests: number; seconds: number; errors: number; p50_us: number; p99_us: number };
  return {
    requests: j.requests,
    bytes: 0,
    seconds: j.seconds,
    reqPerSec: j.requests / j.seconds,
    mibPerSec: 0,
    p50Ms: j.p50_us / 1000,
    p90Ms: NaN,
    p99Ms: j.p99_us / 1000,
    meanMs: NaN,
    maxMs: NaN,
    errors: { connect: 0, read: 0, write: 0, status: j.errors, timeout: 0 },
    cpuBusy: busyPercent(cpu0, cpu1),
    text: child.stdout(),
  };
}

// ---------------------------------------------------------------------------------------
// Scenario 2: cold miss over a delayed S3 origin

interface ColdResult {
  delayMs: number;
  origin: string;
  directMs: number[];
  coldMs: number[];
  warmMs: number[];
  storeCallsPerCold: number;
  readsPerCold: number;
}

async function startOrigin(ctx: Context): Promise<{ endpoint: string; host: string; port: number; credentials: { accessKeyId: string; secretAccessKey: string }; bucket: string; describe: string; close(): Promise<void> }> {
  const external = process.env.BENCH_ORIGIN_ENDPOINT;
  if (external) {
    const url = new URL(external);
    return {
      endpoint: external,
      host: url.hostname,
      port: Number(url.port || 80),
      credentials: { accessKeyId: process.env.BENCH_ORIGIN_ACCESS_KEY_ID ?? '', secretAccessKey: process.env.BENCH_ORIGIN_SECRET_ACCESS_KEY ?? '' },
      bucket: process.env.BENCH_ORIGIN_BUCKET ?? 'ringcache-bench',
      describe: `S3 endpoint ${external}`,
      close: async () => undefined,
    };
  }
  const { startS3rver } = await import('../test/emulators/s3/s3rver-fixture');
  const fixture = await startS3rver({ bucket: 'origin' });
  const url = new URL(fixture.endpoint);
  ctx.log(`origin: s3rver at ${fixture.endpoint}`);
  return { endpoint: fixture.endpoint, host: url.hostname, port: Number(url.port), credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, bucket: 'origin', describe: 's3rver (npm) on 127.0.0.1', close: () => fixture.close() };
}

async function scenarioCold(ctx: Context, delayMs: number): Promise<ColdResult> {
  const { settings, log } = ctx;
  log(`\n== cold miss: S3 origin behind ${delayMs} ms of first-byte latency ==`);
  const origin = await startOrigin(ctx);
  const proxy = await DelayProxy.start({ host: origin.host, port: origin.port }, delayMs);
  const direct = new S3Client({ endpoint: origin.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: origin.credentials, maxAttempts: 1 });
  const viaProxy = new S3Client({ endpoint: `http://127.0.0.1:${proxy.port}`, region: 'us-east-1', forcePathStyle: true, credentials: origin.credentials, maxAttempts: 1 });
  const configFile = path.join(ctx.work, `cold-${delayMs}.json`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let gateway: Gateway | undefined;
  try {
    await direct.send(new CreateBucketCommand({ Bucket: origin.bucket })).catch(() => undefined);
    const objects: BenchObject[] = [];
    for (let i = 0; i < settings.coldObjects; i++) {
      const body = randomBytes(MiB);
      const key = `cold-${delayMs}/obj-${String(i).padStart(4, '0')}`;
      await direct.send(new PutObjectCommand({ Bucket: origin.bucket, Key: key, Body: body }));
      objects.push({ key, size: MiB, sha256: createHash('sha256').update(body).digest('hex') });
    }
    await writeFile(
      configFile,
      JSON.stringify({
        server: { host: '127.0.0.1', port: await freePort() },
        mounts: { [BUCKET]: { uri: `s3://${origin.bucket}?endpoint=${encodeURIComponent(`http://127.0.0.1:${proxy.port}`)}&pathStyle=true&region=us-east-1`, options: { credentials: origin.credentials } } },
        cache: { disk: { path: path.join(ctx.work, `cold-cache-${delayMs}`) } },
        credentials: [{ ...CREDENTIALS, grants: { '*': 'write' } }],
        log: { level: 'warn' },
      }),
    );
    const port = (JSON.parse(readFileSync(configFile, 'utf8')) as { server: { port: number } }).server.port;
    const command = [...ctx.pinning.server, process.execPath, ...settings.nodeArgs, GATEWAY_CLI, 'serve', '--config', configFile];
    const child = Child.spawn(`ringcache over s3 (${delayMs} ms)`, command);
    gateway = { name: 'ringcache over s3', child, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
    await waitForHttp(child, `${gateway.url}/_ringcache/healthz`);
    const s3 = benchS3Client(gateway.url, { plainChecksums: true });

    // Timed reads are not hashed (a 1 MiB SHA-256 in this process would be timed too); every object
    // is checked once afterwards, through the proxy and through the gateway.
    const timeGet = async (url: string, o: BenchObject): Promise<number> => {
      const res = await httpRequest(url, { agent });
      if (res.status !== 200 || res.bytes !== o.size) throw new BenchError(`GET ${url}: ${res.status}, ${res.bytes} bytes${res.body ? `: ${res.body}` : ''}`);
      return res.ms;
    };
    // Open the connections first: what is measured is requests, not TCP handshakes.
    await httpRequest(`${gateway.url}/_ringcache/healthz`, { agent });
    const directAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const directUrls = await Promise.all(objects.map((o) => getSignedUrl(viaProxy, new GetObjectCommand({ Bucket: origin.bucket, Key: o.key }), { expiresIn: 600 })));
    await httpRequest(`http://127.0.0.1:${proxy.port}/`, { agent: directAgent }).catch(() => undefined);
    const directMs: number[] = [];
    for (let i = 0; i < objects.length; i++) {
      const res = await httpRequest(directUrls[i], { agent: directAgent });
      if (res.status !== 200 || res.bytes !== objects[i].size) throw new BenchError(`direct GET ${objects[i].key}: ${res.status}`);
      directMs.push(res.ms);
    }
    const urls = await Promise.all(objects.map((o) => presign(s3, o.key, 'GET')));
    const m0 = await scrapeMetrics(gateway.url);
    const coldMs: number[] = [];
    for (let i = 0; i < objects.length; i++) coldMs.push(await timeGet(`${gateway.url}${urls[i]}`, objects[i]));
    const m1 = await scrapeMetrics(gateway.url);
    const warmMs: number[] = [];
    for (let round = 0; round < 5; round++) for (let i = 0; i < objects.length; i++) warmMs.push(await timeGet(`${gateway.url}${urls[i]}`, objects[i]));
    for (let i = 0; i < objects.length; i++) {
      for (const [label, url, via] of [['direct', directUrls[i], directAgent], ['gateway', `${gateway.url}${urls[i]}`, agent]] as const) {
        const res = await httpRequest(url, { agent: via, hash: true });
        if (res.sha256 !== objects[i].sha256) throw new BenchError(`DATA MISMATCH (${label}) on ${objects[i].key}`);
      }
    }
    directAgent.destroy();
    const d = (name: string): number => metricSum(m1, name) - metricSum(m0, name);
    s3.destroy();
    return {
      delayMs,
      origin: origin.describe,
      directMs,
      coldMs,
      warmMs,
      storeCallsPerCold: d('ringcache_ufs_calls_total') / objects.length,
      readsPerCold: d('ringcache_ufs_reads_total') / objects.length,
    };
  } finally {
    agent.destroy();
    direct.destroy();
    viaProxy.destroy();
    await gateway?.child.stop();
    await proxy.close();
    await origin.close();
  }
}

// ---------------------------------------------------------------------------------------
// Report

interface Verdict {
  what: string;
  measured: string;
  target: string;
  pass: boolean;
}

function reportThroughput(settings: Settings, cells: Cell[], counters: string[], verdicts: Verdict[]): string[] {
  const out: string[] = [];
  const find = (cls: ObjectClass, conns: number, id: string): Cell | undefined => cells.find((c) => c.cls === cls && c.conns === conns && c.target.id === id);
  const wrkBound = (c: Cell): boolean => c.runs.filter((r) => (r.cpuBusy[1] ?? 0) >= 95).length > c.runs.length / 2;
  out.push(`Warm throughput: medians of ${settings.runs} interleaved wrk runs of ${settings.runSeconds} s per target (wrk -t1, round-robin over the objects; MiB/s = bytes received / s). Ratios: req/s for 4 KiB, MiB/s for larger objects.`);
  for (const cls of settings.classes) {
    for (const conns of settings.conns) {
      const byBytes = cls.size >= MiB;
      const nginxBest = [find(cls, conns, 'nginx-on'), find(cls, conns, 'nginx-off')].filter((c): c is Cell => !!c).sort((a, b) => b.reqPerSec - a.reqPerSec)[0];
      const bare = find(cls, conns, 'bare');
      const off = find(cls, conns, 'nginx-off');
      const value = (c: Cell): number => (byBytes ? c.mibPerSec : c.reqPerSec);
      const rows = cells
        .filter((c) => c.cls === cls && c.conns === conns)
        .map((c) => [
          c.target.label,
          fmt(c.reqPerSec) + (wrkBound(c) ? '*' : ''),
          fmt(c.mibPerSec, 1) + (wrkBound(c) ? '*' : ''),
          fmt(median(c.runs.map((r) => r.p50Ms)), 2),
          fmt(c.p99Ms, 2),
          `${(c.runs.length > 1 ? (100 * (Math.max(...c.runs.map((r) => r.reqPerSec)) - Math.min(...c.runs.map((r) => r.reqPerSec)))) / c.reqPerSec : 0).toFixed(0)}%`,
          nginxBest ? `${(value(c) / value(nginxBest)).toFixed(2)}` : '',
          off ? `${(value(c) / value(off)).toFixed(2)}` : '',
          bare ? `${(value(c) / value(bare)).toFixed(2)}` : '',
          `${fmt(median(c.runs.map((r) => r.cpuBusy[0] ?? NaN)))}/${fmt(median(c.runs.map((r) => r.cpuBusy[1] ?? NaN)))}`,
        ]);
      out.push('', `${cls.label}, ${conns} connections:`);
      out.push(table(['target', 'req/s', 'MiB/s', 'p50 ms', 'p99 ms', 'spread', 'x faster nginx', 'x nginx sf off', 'x bare Node', 'CPU % srv/wrk'], rows));

      const rc = find(cls, conns, 'rc-presigned');
      const disk = find(cls, conns, 'rc-disk');
      const head = find(cls, conns, 'rc-head');
      if (!byBytes && rc && nginxBest && bare) {
        verdicts.push({ what: `${cls.label} presigned GET req/s vs the faster nginx (c${conns})`, measured: `${(rc.reqPerSec / nginxBest.reqPerSec).toFixed(2)}x`, target: `>= ${T.smallVsNginx}x (stretch ${T.smallVsNginxStretch}x)`, pass: rc.reqPerSec / nginxBest.reqPerSec >= T.smallVsNginx });
        verdicts.push({ what: `${cls.label} presigned GET req/s vs bare Node (c${conns})`, measured: `${(rc.reqPerSec / bare.reqPerSec).toFixed(2)}x`, target: `>= ${T.smallVsBare}x`, pass: rc.reqPerSec / bare.reqPerSec >= T.smallVsBare });
        if (conns === 64) verdicts.push({ what: `${cls.label} presigned GET p99 at 64 connections`, measured: `${fmt(rc.p99Ms, 2)} ms`, target: `<= ${T.smallP99Ms} ms`, pass: rc.p99Ms <= T.smallP99Ms });
        if (head) verdicts.push({ what: `HeadObject req/s vs the faster nginx's ${cls.label} GET (c${conns})`, measured: `${(head.reqPerSec / nginxBest.reqPerSec).toFixed(2)}x`, target: `>= ${T.headVsNginx}x`, pass: head.reqPerSec / nginxBest.reqPerSec >= T.headVsNginx });
      }
      if (byBytes && rc && bare) verdicts.push({ what: `${cls.label} memory-tier MiB/s vs bare Node (c${conns})`, measured: `${(rc.mibPerSec / bare.mibPerSec).toFixed(2)}x${wrkBound(bare) ? ' (bare Node wrk-bound)' : ''}`, target: `>= ${T.largeMemoryVsBare}x`, pass: rc.mibPerSec / bare.mibPerSec >= T.largeMemoryVsBare });
      if (byBytes && disk && off) verdicts.push({ what: `${cls.label} disk-tier MiB/s vs nginx sendfile off (c${conns})`, measured: `${(disk.mibPerSec / off.mibPerSec).toFixed(2)}x`, target: `>= ${T.largeDiskVsNginxOff}x`, pass: disk.mibPerSec / off.mibPerSec >= T.largeDiskVsNginxOff });
    }
  }
  if (cells.some(wrkBound)) out.push('', '* wrk\'s core was >= 95% busy in most runs: the load generator set the pace, so the figure is a lower bound for that target.');
  out.push('', ...counters);
  return out;
}

function reportCold(results: ColdResult[], verdicts: Verdict[]): string[] {
  const out: string[] = ['', 'Cold miss over an S3 origin, 1 MiB objects, one connection, sequential (medians; the gateway\'s page is 1 MiB):', ''];
  const ms = (v: number): string => `${v.toFixed(2)} ms`;
  const rows = results.map((r) => [
    `${r.delayMs} ms`,
    r.origin,
    ms(median(r.directMs)),
    ms(median(r.coldMs)),
    ms(median(r.coldMs) - median(r.directMs)),
    `p90 ${ms(percentile(r.coldMs, 90))}`,
    ms(median(r.warmMs)),
    `${(median(r.directMs) / median(r.warmMs)).toFixed(1)}x`,
    `${r.storeCallsPerCold.toFixed(2)} (${r.readsPerCold.toFixed(2)} data)`,
  ]);
  out.push(table(['first-byte delay', 'origin', 'direct read', 'cold GET', 'cold - direct', 'cold spread', 'warm GET', 'direct / warm', 'store calls per cold GET'], rows, 2));
  for (const r of results) {
    const over = median(r.coldMs) - median(r.directMs);
    if (r.delayMs > 0) {
      verdicts.push({ what: `cold 1 MiB GET - direct read, ${r.delayMs} ms origin`, measured: ms(over), target: `<= ${T.coldOverOriginMs} ms`, pass: over <= T.coldOverOriginMs });
      verdicts.push({ what: `direct read / warm GET, ${r.delayMs} ms origin`, measured: `${(median(r.directMs) / median(r.warmMs)).toFixed(1)}x`, target: `>= ${T.warmSpeedup}x`, pass: median(r.directMs) / median(r.warmMs) >= T.warmSpeedup });
    } else {
      verdicts.push({ what: 'cold 1 MiB GET - direct read, no added latency', measured: ms(over), target: `<= ${T.coldOverDirectNoDelayMs} ms`, pass: over <= T.coldOverDirectNoDelayMs });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const settings = readSettings();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const tools = ensureTools(log);
  const cpus = os.availableParallelism();
  const pinning = choosePinning(tools, cpus);
  pinSelf(tools, pinning);
  const workDir = openWorkDir(settings.tmpParent, 'ringcache-fast-path-', { keep: settings.keep, log, signals: (signal) => `\n${signal}: stopping every server` });
  const work = workDir.path;
  await mkdir(path.join(work, 'data'), { recursive: true });

  const ctx: Context = { settings, tools, pinning, work, log };
  console.log(
    [
      `Ringcache fast-path benchmark (issue #10): node ${process.version}, ${cpus} CPUs (${os.cpus()[0]?.model ?? '?'}), ${os.platform()} ${os.release()}`,
      `${pinning.description}; load average before the run: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    ].join('\n'),
  );
  const started = performance.now();
  const out: string[] = [];
  const verdicts: Verdict[] = [];
  try {
    if (settings.scenarios.has('throughput')) {
      const t = await scenarioThroughput(ctx);
      out.push('', ...reportThroughput(settings, t.cells, t.counters, verdicts));
    }
    if (settings.scenarios.has('cold')) {
      const results: ColdResult[] = [];
      for (const delay of settings.originDelays) results.push(await scenarioCold(ctx, delay));
      out.push(...reportCold(results, verdicts));
    }
    out.push('', 'Targets (issue #10):', '', table(['target', 'measured', 'wanted', 'verdict'], verdicts.map((v) => [v.what, v.measured, v.target, v.pass ? 'PASS' : 'SHORT'])));
    out.push('', `load average after the run: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}; total ${((performance.now() - started) / 1000).toFixed(0)} s; exit code 0 whatever the verdicts`);
    console.log(out.join('\n'));
    return 0;
  } catch (err) {
    if (out.length > 0) console.log(out.join('\n'));
    throw err;
  } finally {
    await workDir.cleanup();
    workDir.release();
  }
}

runBench(main);
