/**
 * Multipart / large-object memory benchmark: `npm run bench:multipart`.
 *
 * Starts the gateway as a child process (`node dist/src/cli/ringcache.js serve`) over a temporary
 * data dir, then drives it with @aws-sdk/client-s3:
 *
 *   1. multipart upload of BENCH_SIZE_MIB (default 1024) MiB: 8 MiB parts, 4 in flight,
 *   2. CompleteMultipartUpload (the local adapter concatenates the parts: one full copy),
 *   3. GetObject of the whole object, streamed and SHA-256-checked,
 *   4. one PutObject of BENCH_PUT_MIB (default 256) MiB from a stream with ContentLength,
 *   5. a ranged GetObject of BENCH_RANGE_MIB (default 64) MiB from the middle, checked.
 *
 * Object bytes are generated chunk by chunk (a 1 MiB random block, every 4 KiB stamped with
 * a counter), so neither side ever needs a whole object in memory. The gateway's RSS is read
 * from /proc/<pid>/status every 50 ms by a worker thread (so sampling keeps its pace while
 * the main thread hashes), and VmHWM gives the kernel's exact peak for the whole run.
 *
 * Exit code: 0 whatever the memory verdict (a benchmark, not a test); 1 on a data mismatch
 * or any error; 130/143 when interrupted. See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { BenchError, envInt, MiB, runBench } from './lib/bench-run';
import { GatewayChild } from './lib/gateway-child';
import { mib, mibBytes, table } from './lib/numbers';
import { Pattern } from './lib/pattern';
import { HAS_PROC, procCpuSeconds, procStatus } from './lib/proc-status';
import { freePort } from './lib/processes';
import { BENCH_CREDENTIALS as CREDENTIALS, benchS3Client, drain } from './lib/s3-client';

const PART_SIZE = 8 * MiB;
const PARTS_IN_FLIGHT = 4;
const SAMPLE_MS = 50;
const BUCKET = 'bench';

// ---------------------------------------------------------------------------------------
// Settings

const envMiB = (name: string, fallback: number): number => envInt(name, fallback, 1, 'a positive whole number of MiB');

interface Settings {
  size: number; // bytes of the multipart object
  putSize: number; // bytes of the single PUT
  rangeSize: number; // bytes of the ranged GET
  targetMiB: number;
  /** Gateway cache on or off (RINGCACHE_CACHE_ENABLED). */
  cache: boolean;
  /** Memory tier of the gateway cache (RINGCACHE_CACHE_MEMORY_BYTES). */
  cacheMemoryMiB: number;
  tmpParent: string;
  nodeArgs: string[];
  gatewayLog?: string;
  keep: boolean;
}

function readSettings(): Settings {
  const size = envMiB('BENCH_SIZE_MIB', 1024) * MiB;
  return {
    size,
    putSize: envMiB('BENCH_PUT_MIB', 256) * MiB,
    rangeSize: Math.min(envMiB('BENCH_RANGE_MIB', 64) * MiB, size),
    targetMiB: envMiB('BENCH_TARGET_MIB', 200),
    cacheMemoryMiB: envMiB('BENCH_CACHE_MEMORY_MIB', 64),
    // BENCH_CACHE=off measures the streaming path alone; on (default) adds the cache's budgets.
    cache: (process.env.BENCH_CACHE ?? 'on') !== 'off',
    tmpParent: process.env.BENCH_TMPDIR || os.tmpdir(),
    nodeArgs: (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
    gatewayLog: process.env.BENCH_GATEWAY_LOG || undefined,
    keep: process.env.BENCH_KEEP_DATA === '1',
  };
}

// ---------------------------------------------------------------------------------------
// Memory sampling (Linux /proc)

const clientCpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

// Slots of the shared Int32Array (values in kB).
const S = { gwPhaseMax: 0, gwRunMax: 1, benchPhaseMax: 2, benchRunMax: 3, samples: 4, stop: 5, gwGone: 6 } as const;

/**
 * The sampler runs in a worker thread, not on a timer of the main thread, so its 50 ms pace
 * does not depend on the main thread's event loop (busy hashing). It is plain JS evaluated
 * from a string so the worker does not load the AWS SDK.
 */
const SAMPLER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const a = new Int32Array(workerData.shared);
const S = workerData.slots;
const rss = (pid) => {
  try { const m = /^VmRSS:\\s+(\\d+) kB$/m.exec(readFileSync('/proc/' + pid + '/status', 'utf8')); return m ? Number(m[1]) : -1; }
  catch { return -1; }
};
const raise = (slot, v) => { for (;;) { const cur = Atomics.load(a, slot); if (v <= cur || Atomics.compareExchange(a, slot, cur, v) === cur) return; } };
while (Atomics.load(a, S.stop) === 0) {
  const gw = rss(workerData.pid);
  if (gw < 0) Atomics.store(a, S.gwGone, 1); else { raise(S.gwPhaseMax, gw); raise(S.gwRunMax, gw); }
  const self = rss('self');
  if (self >= 0) { raise(S.benchPhaseMax, self); raise(S.benchRunMax, self); }
  Atomics.add(a, S.samples, 1);
  Atomics.wait(a, S.stop, 0, workerData.intervalMs);
}
`;

class MemorySampler {
  private readonly shared = new SharedArrayBuffer(8 * 4);
  private readonly a = new Int32Array(this.shared);
  private readonly worker?: Worker;

  constructor(private readonly pid: number) {
    if (!HAS_PROC) return;
    this.worker = new Worker(SAMPLER_SOURCE, { eval: true, workerData: { shared: this.shared, slots: S, pid, intervalMs: SAMPLE_MS } });
    this.worker.unref();
  }

  private now(): { gw: number; bench: number } {
    return { gw: procStatus(this.pid)?.VmRSS ?? 0, bench: procStatus('self')?.VmRSS ?? 0 };
  }

  /** Starts a phase: the phase maxima restart from the current RSS. */
  startPhase(): void {
    const { gw, bench } = this.now();
    Atomics.store(this.a, S.gwPhaseMax, gw);
    Atomics.store(this.a, S.benchPhaseMax, bench);
  }

  /** Ends a phase: peak kB of the gateway and of this process since startPhase. */
  endPhase(): { gatewayKb: number; benchKb: number } {
    const { gw, bench } = this.now();
    return {
      gatewayKb: Math.max(gw, Atomics.load(this.a, S.gwPhaseMax)),
      benchKb: Math.max(bench, Atomics.load(this.a, S.benchPhaseMax)),
    };
  }

  get runMax(): { gatewayKb: number; benchKb: number; samples: number } {
    return { gatewayKb: Atomics.load(this.a, S.gwRunMax), benchKb: Atomics.load(this.a, S.benchRunMax), samples: Atomics.load(this.a, S.samples) };
  }

  async stop(): Promise<void> {
    Atomics.store(this.a, S.stop, 1);
    Atomics.notify(this.a, S.stop);
    await this.worker?.terminate();
  }
}

// ---------------------------------------------------------------------------------------
// The gateway child process

const GATEWAY_CLI = path.resolve(__dirname, '..', 'src', 'cli', 'ringcache.js');

class Gateway extends GatewayChild {
  static async start(dataDir: string, settings: Settings): Promise<Gateway> {
    const port = await freePort();
    const child = spawn(process.execPath, [...settings.nodeArgs, GATEWAY_CLI, 'serve'], {
      env: {
        ...process.env,
        RINGCACHE_HOST: '127.0.0.1',
        RINGCACHE_PORT: String(port),
        RINGCACHE_DATA_DIR: dataDir,
        RINGCACHE_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        RINGCACHE_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        RINGCACHE_LOG_LEVEL: 'warn',
        // The cache's memory tier is a deliberate budget, not a leak: the RSS target is about
        // streaming buffers, so the run uses a small memory tier (BENCH_CACHE_MEMORY_MIB).
        RINGCACHE_CACHE_DIR: path.join(dataDir, ".cache"), // not a valid bucket name, removed with the data dir
        RINGCACHE_CACHE_MEMORY_BYTES: String(settings.cacheMemoryMiB * 1024 * 1024),
        RINGCACHE_CACHE_ENABLED: String(settings.cache),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const gateway = new Gateway(child, `http://127.0.0.1:${port}`, { logPath: settings.gatewayLog });
    try {
      await gateway.waitHealthy(30_000);
    } catch (err) {
      await gateway.stop();
      const output = gateway.output().trim();
      throw new BenchError(`${(err as Error).message}${output ? `\n--- gateway output ---\n${output}\n---` : ''}`);
    }
    return gateway;
  }
}

// ---------------------------------------------------------------------------------------
// Phases

interface PhaseResult {
  name: string;
  bytes: number;
  seconds: number;
  gatewayPeakKb: number;
  benchPeakKb: number;
  gatewayCpu?: number;
  clientCpu: number;
  after: { rssAnonKb?: number; rssFileKb?: number; heapUsed?: number; heapTotal?: number; external?: number };
}

class Bench {
  readonly results: PhaseResult[] = [];
  readonly s3: S3Client;

  constructor(
    readonly gateway: Gateway,
    readonly sampler: MemorySampler,
  ) {
    this.s3 = benchS3Client(gateway.url);
  }

  async phase(name: string, bytes: number, run: () => Promise<void>): Promise<void> {
    process.stderr.write(`  ${name} ...\n`);
    this.sampler.startPhase();
    const gwCpu0 = procCpuSeconds(this.gateway.pid);
    const clientCpu0 = clientCpuSeconds();
    const t0 = performance.now();
    await Promise.race([run(), this.gateway.died]);
    const seconds = (performance.now() - t0) / 1000;
    const peak = this.sampler.endPhase();
    const gwCpu1 = procCpuSeconds(this.gateway.pid);
    const gatewayCpu = gwCpu0 !== undefined && gwCpu1 !== undefined ? gwCpu1 - gwCpu0 : undefined;
    const clientCpu = clientCpuSeconds() - clientCpu0;
    const status = procStatus(this.gateway.pid);
    const node = await this.gateway.nodeMemory();
    this.results.push({ name, bytes, seconds, gatewayPeakKb: peak.gatewayKb, benchPeakKb: peak.benchKb, gatewayCpu, clientCpu, after: { rssAnonKb: status?.RssAnon, rssFileKb: status?.RssFile, ...node } });
    process.stderr.write(`    done in ${seconds.toFixed(2)} s\n`);
  }
}

async function runPhases(bench: Bench, settings: Settings): Promise<void> {
  const { s3 } = bench;
  const { size, putSize, rangeSize } = settings;
  const bigKey = 'big-multipart.bin';
  const putKey = 'single-put.bin';
  const big = new Pattern(1);
  const single = new Pattern(2);

  await bench.phase('idle (after startup)', 0, () => sleep(500));
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));

  // 1. Multipart upload: CreateMultipartUpload + UploadPart, PARTS_IN_FLIGHT parts at a time.
  const uploadHash = createHash('sha256');
  const partCount = Math.ceil(size / PART_SIZE);
  const completed: CompletedPart[] = [];
  let uploadId = '';
  try {
    await bench.phase(`multipart upload (${partCount} x ${PART_SIZE / MiB} MiB parts, ${PARTS_IN_FLIGHT} in flight)`, size, async () => {
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: bigKey }));
      uploadId = created.UploadId ?? '';
      if (!uploadId) throw new BenchError('CreateMultipartUpload returned no UploadId');
      let next = 1;
      const lane = async (): Promise<void> => {
        while (next <= partCount) {
          const partNumber = next++;
          const start = (partNumber - 1) * PART_SIZE;
          // Generated (and hashed) synchronously right after taking the number: in object order.
          const body = big.fill(Buffer.allocUnsafe(Math.min(PART_SIZE, size - start)), start);
          uploadHash.update(body);
          const out = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: bigKey, UploadId: uploadId, PartNumber: partNumber, Body: body }));
          if (!out.ETag) throw new BenchError(`UploadPart ${partNumber} returned no ETag`);
          completed[partNumber - 1] = { PartNumber: partNumber, ETag: out.ETag };
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, partCount) }, lane));
    });

    // 2. CompleteMultipartUpload, timed on its own (the local adapter copies every byte once).
    await bench.phase('CompleteMultipartUpload (parts -> one file)', size, async () => {
      await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: bigKey, UploadId: uploadId, MultipartUpload: { Parts: completed } }));
    });
    uploadId = '';
  } finally {
    if (uploadId) await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: bigKey, UploadId: uploadId })).catch(() => undefined);
  }
  const expected = uploadHash.digest('hex');

  // 3. Whole-object GET, streamed and hashed.
  const downloadHash = createHash('sha256');
  let downloaded = 0;
  await bench.phase('GetObject (whole object, streamed)', size, async () => {
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: bigKey }));
    downloaded = await drain(out.Body, (chunk) => downloadHash.update(chunk));
  });
  const actual = downloadHash.digest('hex');
  if (downloaded !== size || actual !== expected) {
    throw new BenchError(`DATA MISMATCH on GET ${bigKey}: ${downloaded} bytes, sha256 ${actual}; uploaded ${size} bytes, sha256 ${expected}`);
  }
  process.stderr.write(`    sha256 ${actual} matches the upload\n`);

  // 4. One PutObject from a stream with ContentLength (the SDK streams it).
  const putMd5 = createHash('md5');
  let putEtag = '';
  await bench.phase(`PutObject (single ${putSize / MiB} MiB stream)`, putSize, async () => {
    const body = single.stream(0, putSize, (chunk) => putMd5.update(chunk));
    const out = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: putKey, Body: body, ContentLength: putSize }));
    putEtag = out.ETag ?? '';
  });
  const md5 = putMd5.digest('hex');
  if (putEtag.replace(/"/g, '') !== md5) throw new BenchError(`DATA MISMATCH on PUT ${putKey}: ETag ${putEtag}, MD5 of the body ${md5}`);
  process.stderr.write(`    ETag ${putEtag} = MD5 of the body\n`);

  // 5. Ranged GET from the middle of the big object.
  const rangeStart = Math.floor((size - rangeSize) / 2);
  const rangeExpected = big.sha256(rangeStart, rangeSize); // computed before the timer starts
  const rangeHash = createHash('sha256');
  let rangeBytes = 0;
  await bench.phase(`GetObject Range (${rangeSize / MiB} MiB from the middle)`, rangeSize, async () => {
    const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: bigKey, Range: `bytes=${rangeStart}-${rangeStart + rangeSize - 1}` }));
    rangeBytes = await drain(out.Body, (chunk) => rangeHash.update(chunk));
  });
  const rangeActual = rangeHash.digest('hex');
  if (rangeBytes !== rangeSize || rangeActual !== rangeExpected) {
    throw new BenchError(`DATA MISMATCH on ranged GET: ${rangeBytes} bytes, sha256 ${rangeActual}; expected ${rangeSize} bytes, sha256 ${rangeExpected}`);
  }
  process.stderr.write(`    range sha256 matches\n`);
}

// ---------------------------------------------------------------------------------------
// Report

function report(bench: Bench, settings: Settings, gatewayHwmKb: number | undefined, benchHwmKb: number | undefined): void {
  const rows = bench.results.map((r) => [
    r.name,
    String(r.bytes),
    r.seconds.toFixed(2),
    r.bytes > 0 ? (r.bytes / MiB / r.seconds).toFixed(1) : '-',
    mib(r.gatewayPeakKb),
    mib(r.benchPeakKb),
  ]);
  const run = bench.sampler.runMax;
  const out: string[] = [];
  out.push('');
  out.push(`Ringcache multipart / large-object benchmark (node ${process.version}, ${os.cpus().length} CPUs, ${os.platform()})`);
  out.push(settings.cache ? `cache ON: memory tier ${settings.cacheMemoryMiB} MiB, LMDB tier default (its write backlog is capped at 64 MiB)` : 'cache OFF: the streaming path alone');
  out.push(`gateway pid ${bench.gateway.pid}; RSS sampled every ${SAMPLE_MS} ms (${run.samples} samples); object ${settings.size / MiB} MiB, PUT ${settings.putSize / MiB} MiB, range ${settings.rangeSize / MiB} MiB`);
  out.push('');
  out.push(table(['phase', 'bytes', 'seconds', 'MiB/s', 'gateway peak RSS (MiB)', '(client peak RSS, MiB)'], rows));
  out.push('');
  out.push('CPU seconds used during each phase, and gateway memory at the end of it (RssAnon/RssFile from /proc; heap/external from its /_ringcache/metrics):');
  out.push(
    table(
      ['phase', 'gateway CPU s', 'client CPU s', 'RssAnon MiB', 'RssFile MiB', 'heapUsed MiB', 'heapTotal MiB', 'external MiB'],
      bench.results.map((r) => [
        r.name,
        r.gatewayCpu === undefined ? 'n/a' : r.gatewayCpu.toFixed(2),
        r.clientCpu.toFixed(2),
        mib(r.after.rssAnonKb),
        mib(r.after.rssFileKb),
        mibBytes(r.after.heapUsed),
        mibBytes(r.after.heapTotal),
        mibBytes(r.after.external),
      ]),
    ),
  );
  out.push('');
  if (!HAS_PROC) {
    out.push('GATEWAY peak RSS: n/a (no /proc on this platform)');
  } else if (gatewayHwmKb === undefined) {
    out.push(`GATEWAY whole-run peak RSS: VmHWM n/a (the gateway is gone); highest 50 ms sample: ${mib(run.gatewayKb)} MiB`);
  } else {
    const ratio = gatewayHwmKb / 1024 / settings.targetMiB;
    out.push(`GATEWAY whole-run peak RSS (VmHWM):   ${mib(gatewayHwmKb)} MiB   (highest 50 ms sample: ${mib(run.gatewayKb)} MiB)`);
    out.push(`target:                               ${settings.targetMiB} MiB`);
    out.push(`ratio VmHWM / target:                 ${ratio.toFixed(2)}   -> ${ratio <= 1 ? 'PASS' : 'FAIL'}`);
  }
  out.push(`benchmark client process peak RSS:   ${mib(benchHwmKb)} MiB VmHWM (sampled ${mib(run.benchKb)} MiB) -- the load generator, NOT the gateway`);
  out.push('');
  console.log(out.join('\n'));
}

// ---------------------------------------------------------------------------------------
// Main, with cleanup on success, error and signals

async function main(): Promise<number> {
  const settings = readSettings();
  if (!HAS_PROC) process.stderr.write('warning: /proc is not available (not Linux?): memory columns will be n/a\n');

  const needed = 2 * settings.size + 2 * settings.putSize + 256 * MiB; // parts + completed copy, PUT temp + object
  const fsStat = await statfs(settings.tmpParent).catch(() => undefined);
  if (fsStat && fsStat.bavail * fsStat.bsize < needed) {
    throw new BenchError(`${settings.tmpParent} has ${(fsStat.bavail * fsStat.bsize / MiB).toFixed(0)} MiB free; the run needs about ${(needed / MiB).toFixed(0)} MiB (set BENCH_TMPDIR or BENCH_SIZE_MIB)`);
  }

  const dataDir = await mkdtemp(path.join(settings.tmpParent, 'ringcache-bench-'));
  let gateway: Gateway | undefined;
  let sampler: MemorySampler | undefined;
  let bench: Bench | undefined;
  let cleaning: Promise<void> | undefined;
  let interrupted = false;

  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      bench?.s3.destroy();
      await sampler?.stop();
      await gateway?.stop();
      if (settings.keep) process.stderr.write(`data kept in ${dataDir}\n`);
      else await rm(dataDir, { recursive: true, force: true });
    })());
  // Last resort if something calls process.exit: synchronous kill + remove.
  const onExit = (): void => {
    gateway?.killNow();
    if (!settings.keep) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the gateway and removing ${dataDir}\n`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    process.stderr.write(`data dir ${dataDir}\nstarting gateway: ${process.execPath} ${[...settings.nodeArgs, GATEWAY_CLI, 'serve'].join(' ')}\n`);
    gateway = await Gateway.start(dataDir, settings);
    sampler = new MemorySampler(gateway.pid);
    bench = new Bench(gateway, sampler);
    process.stderr.write(`gateway pid ${gateway.pid} at ${gateway.url}\n`);

    await runPhases(bench, settings);

    const gatewayHwm = procStatus(gateway.pid)?.VmHWM; // read while the child is still alive
    const benchHwm = procStatus('self')?.VmHWM;
    report(bench, settings, gatewayHwm, benchHwm);
    return 0;
  } catch (err) {
    if (interrupted) return new Promise<number>(() => undefined); // the signal handler exits
    if (bench && bench.results.length > 0) report(bench, settings, gateway ? procStatus(gateway.pid)?.VmHWM : undefined, procStatus('self')?.VmHWM);
    const output = gateway?.output().trim();
    if (output) process.stderr.write(`\n--- last gateway output ---\n${output}\n---\n`);
    throw err;
  } finally {
    await cleanup();
    process.removeListener('exit', onExit);
  }
}

runBench(main);
