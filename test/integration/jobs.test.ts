/**
 * Load jobs on one node, through a real gateway: a job warms a prefix so that reading it
 * afterwards costs zero store reads; skipCached, metadataOnly, a missing prefix, API errors,
 * authorization, cancel, a dispatcher that fails, a restart while a job runs, and the built
 * CLI (usage errors included).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { ADMIN, READER, bodyBytes, startTestGateway, type TestGateway, type TestGatewayOptions } from '../helpers/gateway';
import { InstrumentedUfs } from '../helpers/instrumented-ufs';
import { rawRequest } from '../helpers/raw-request';
import { createAdapter } from '../../src/mounts/adapter-factory';
import type { ByteRange, ReadOptions } from '../../ufs-adapters/types';
import { AdminRequestError } from '../../src/cli/admin-client';
import { JobsClient } from '../../src/cli/jobs-client';
import { JobManager } from '../../src/jobs/job-manager';
import { localDispatcher } from '../../src/jobs/local-dispatcher';
import { isFinished, type JobView } from '../../src/jobs/job-types';
import type { LoadDispatcher } from '../../src/jobs/load-dispatcher';
import { parseConfig } from '../../src/config/load-config';

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 256 * KiB;
const Bucket = 'warm';
const CLI = path.resolve(__dirname, '../../dist/src/cli/ringcache.js');

/** 50 objects: 5 empty, 35 of a few KiB, 10 of up to several MiB, across page boundaries. */
const SIZES = [
  ...Array.from({ length: 5 }, () => 0),
  ...Array.from({ length: 35 }, (_, i) => 1 + i * 233),
  PAGE,
  PAGE + 1,
  2 * PAGE - 1,
  3 * PAGE + 17,
  3 * MiB + 5,
  4 * MiB,
  5 * MiB - 3,
  2.5 * MiB,
  6 * MiB + 1,
  Math.round(3.3 * MiB),
];
const TOTAL = SIZES.reduce((a, b) => a + b, 0);
const NONEMPTY = SIZES.filter((s) => s > 0).length;
const keyOf = (i: number): string => `set/${i % 3 === 0 ? 'deep/er/' : ''}obj-${String(i).padStart(2, '0')}.bin`;

/** The store, with a delay before every data read when asked (to catch a job mid-way). */
class SlowUfs extends InstrumentedUfs {
  readDelayMs = 0;
  override async read(key: string, range: ByteRange | undefined, options?: ReadOptions): Promise<Readable> {
    if (this.readDelayMs > 0) await sleep(this.readDelayMs);
    return super.read(key, range, options);
  }
}

interface Harness {
  gw: TestGateway;
  ufs: () => SlowUfs;
  client: JobsClient;
}

async function start(options: TestGatewayOptions = {}, readDelayMs = 0): Promise<Harness> {
  const stores: SlowUfs[] = [];
  const gw = await startTestGateway(
    { cache: { pageSize: PAGE, metadata: { ttlSeconds: 3600 } } },
    {
      ...options,
      adapterFactory: (uri) => {
        const store = new SlowUfs(createAdapter(uri));
        store.readDelayMs = readDelayMs;
        stores.push(store);
        return store;
      },
    },
  );
  return { gw, ufs: () => stores[stores.length - 1], client: new JobsClient(gw.url, { ...ADMIN, region: 'us-east-1' }) };
}

const contents = new Map<string, Buffer>();

async function writeObjects(dataDir: string): Promise<void> {
  for (let i = 0; i < SIZES.length; i++) {
    const file = path.join(dataDir, Bucket, keyOf(i));
    await mkdir(path.dirname(file), { recursive: true });
    const data = contents.get(keyOf(i)) ?? randomBytes(SIZES[i]);
    contents.set(keyOf(i), data);
    await writeFile(file, data);
  }
  await mkdir(path.join(dataDir, Bucket, 'other'), { recursive: true });
  await writeFile(path.join(dataDir, Bucket, 'other', 'outside.bin'), randomBytes(PAGE * 2));
  await mkdir(path.join(dataDir, Bucket, 'meta'), { recursive: true });
  for (let i = 0; i < 5; i++) await writeFile(path.join(dataDir, Bucket, 'meta', `m${i}.bin`), randomBytes(PAGE + i));
}

async function metric(gw: TestGateway, name: string): Promise<number> {
  const found = (await gw.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return found.reduce((n, v) => n + v.value, 0);
}

async function finished(client: JobsClient, id: string, ms = 15_000): Promise<JobView> {
  const end = Date.now() + ms;
  for (;;) {
    const job = await client.get(id);
    if (isFinished(job.state)) return job;
    if (Date.now() > end) throw new Error(`job ${id} still ${job.state}: ${JSON.stringify(job.progress)}`);
    await sleep(25);
  }
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

async function getAll(gw: TestGateway): Promise<void> {
  for (let i = 0; i < SIZES.length; i++) {
    const body = await bodyBytes((await gw.client().send(new GetObjectCommand({ Bucket, Key: keyOf(i) }))).Body);
    expect(body.equals(contents.get(keyOf(i)) as Buffer)).toBe(true);
  }
}

describe('load jobs on one node', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await start();
    await writeObjects(h.gw.dataDir);
  });
  afterAll(() => h.gw.close());

  test('a job warms the prefix with exact counts; afterwards reading every object costs zero store reads', async () => {
    const submitted = await h.client.submit({ bucket: Bucket, prefix: 'set/' });
    expect(['queued', 'running']).toContain(submitted.state);
    const job = await finished(h.client, submitted.id);
    expect(job).toMatchObject({ state: 'completed', submittedBy: ADMIN.accessKeyId, coordinator: h.gw.cluster.node.self.id });
    expect(job.progress).toMatchObject({
      filesListed: 50,
      filesTotal: 50,
      filesDone: 50,
      filesLoaded: 50,
      filesSkipped: 0,
      filesFailed: 0,
      bytesListed: TOTAL,
      bytesTotal: TOTAL,
      bytesDone: TOTAL,
      bytesLoaded: TOTAL,
      bytesSkipped: 0,
      listingComplete: true,
      etaSeconds: 0,
      recentFailures: [],
    });
    expect(job.progress.throughputBytesPerSecond).toBeGreaterThan(0);

    const reads = await metric(h.gw, 'ringcache_ufs_reads_total');
    const stats = await metric(h.gw, 'ringcache_ufs_stats_total');
    await getAll(h.gw);
    expect(await metric(h.gw, 'ringcache_ufs_reads_total')).toBe(reads);
    expect(await metric(h.gw, 'ringcache_ufs_stats_total')).toBe(stats);
    // Outside the prefix, nothing was loaded.
    await bodyBytes((await h.gw.client().send(new GetObjectCommand({ Bucket, Key: 'other/outside.bin' }))).Body);
    expect(await metric(h.gw, 'ringcache_ufs_reads_total')).toBeGreaterThan(reads);
  });

  test('a second run with skipCached finds everything cached and reads nothing', async () => {
    const reads = await metric(h.gw, 'ringcache_ufs_reads_total');
    const job = await finished(h.client, (await h.client.submit({ bucket: Bucket, prefix: 'set/', options: { skipCached: true } })).id);
    expect(job.state).toBe('completed');
    // Empty objects have no pages to skip: they count as loaded (metadata).
    expect(job.progress).toMatchObject({ filesDone: 50, filesSkipped: NONEMPTY, filesLoaded: 50 - NONEMPTY, bytesSkipped: TOTAL, bytesLoaded: 0 });
    expect(await metric(h.gw, 'ringcache_ufs_reads_total')).toBe(reads);
  });

  test('metadataOnly caches metadata and no pages', async () => {
    const reads = await metric(h.gw, 'ringcache_ufs_reads_total');
    const job = await finished(h.client, (await h.client.submit({ bucket: Bucket, prefix: 'meta/', options: { metadataOnly: true } })).id);
    expect(job).toMatchObject({ state: 'completed', progress: { filesDone: 5, filesLoaded: 5, bytesLoaded: 0, bytesSkipped: 0 } });
    expect(await metric(h.gw, 'ringcache_ufs_reads_total')).toBe(reads);
    const stats = await metric(h.gw, 'ringcache_ufs_stats_total');
    for (let i = 0; i < 5; i++) await h.gw.client().send(new HeadObjectCommand({ Bucket, Key: `meta/m${i}.bin` }));
    expect(await metric(h.gw, 'ringcache_ufs_stats_total')).toBe(stats);
    await bodyBytes((await h.gw.client().send(new GetObjectCommand({ Bucket, Key: 'meta/m0.bin' }))).Body);
    expect(await metric(h.gw, 'ringcache_ufs_reads_total')).toBeGreaterThan(reads);
  });

  test('a prefix with nothing under it completes with zero files', async () => {
    const job = await finished(h.client, (await h.client.submit({ bucket: Bucket, prefix: 'no/such/prefix/' })).id);
    expect(job).toMatchObject({ state: 'completed', progress: { filesListed: 0, filesDone: 0, bytesLoaded: 0, filesTotal: 0, listingComplete: true } });
  });

  test('API errors: bad bucket, unsigned, bad options, wrong payload hash, unknown job, oversized body', async () => {
    await expect(h.client.submit({ bucket: 'no-such-bucket', prefix: 'x' })).rejects.toMatchObject({ status: 404, code: 'NoSuchBucket' });

    const unsigned = await fetch(`${h.gw.url}/_ringcache/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bucket: Bucket }) });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({ error: 'AccessDenied' });
    expect((await fetch(`${h.gw.url}/_ringcache/jobs`)).status).toBe(403);

    const bad = await h.client.submit({ bucket: Bucket, options: { concurrency: 0, bandwidth: 'fast' } } as never).catch((err: AdminRequestError) => err);
    expect(bad).toMatchObject({ status: 400, code: 'InvalidArgument' });
    expect((bad as Error).message).toMatch(/options\.concurrency.*options\.bandwidth: bandwidth "fast"/);

    const body = JSON.stringify({ bucket: Bucket });
    const mismatch = await rawRequest(h.gw.url, { method: 'POST', path: '/_ringcache/jobs', headers: { 'content-type': 'application/json', 'x-amz-content-sha256': 'a'.repeat(64) }, body });
    expect(mismatch.status).toBe(400);
    expect(JSON.parse(mismatch.body)).toMatchObject({ error: 'XAmzContentSHA256Mismatch' });

    const notJson = await rawRequest(h.gw.url, { method: 'POST', path: '/_ringcache/jobs', headers: { 'content-type': 'text/plain' }, body });
    expect(notJson.status).toBe(415);
    expect(JSON.parse(notJson.body)).toMatchObject({ error: 'InvalidArgument' });

    const huge = await rawRequest(h.gw.url, { method: 'POST', path: '/_ringcache/jobs', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bucket: Bucket, prefix: 'x'.repeat(70 * KiB) }) });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body)).toMatchObject({ error: 'EntityTooLarge' });

    await expect(h.client.get('jnosuchjob')).rejects.toMatchObject({ status: 404, code: 'NoSuchJob' });
    await expect(h.client.cancel('jnosuchjob')).rejects.toMatchObject({ status: 404, code: 'NoSuchJob' });
    await expect(h.client.get(`j${'x'.repeat(3000)}`)).rejects.toMatchObject({ status: 404, code: 'NoSuchJob' });

    // A read-only key may submit and list (loading needs read access only).
    const reader = new JobsClient(h.gw.url, { ...READER, region: 'us-east-1' });
    const mine = await reader.submit({ bucket: Bucket, prefix: 'no/' });
    expect((await reader.list()).map((j) => j.id)).toContain(mine.id);
  });

  test('authorization: skipCached false needs write access (it drops cached pages); cancel needs the submitter or write access', async () => {
    const reader = new JobsClient(h.gw.url, { ...READER, region: 'us-east-1' });
    await expect(reader.submit({ bucket: Bucket, prefix: 'no/', options: { skipCached: false } })).rejects.toMatchObject({ status: 403, code: 'AccessDenied', message: expect.stringContaining('skipCached: false') });
    const admins = await h.client.submit({ bucket: Bucket, prefix: 'no/', options: { skipCached: false } });
    await expect(reader.cancel(admins.id)).rejects.toMatchObject({ status: 403, code: 'AccessDenied', message: expect.stringContaining(`submitted by another access key (${ADMIN.accessKeyId})`) });
    const readers = await reader.submit({ bucket: Bucket, prefix: 'no/' });
    expect((await reader.cancel(readers.id)).id).toBe(readers.id); // its submitter
    expect((await h.client.cancel(readers.id)).id).toBe(readers.id); // write access
  });

  test('a gateway without a cache refuses jobs with the reason', async () => {
    const gw = await startTestGateway({ cache: { enabled: false } });
    try {
      await mkdir(path.join(gw.dataDir, Bucket));
      const client = new JobsClient(gw.url, { ...ADMIN, region: 'us-east-1' });
      await expect(client.submit({ bucket: Bucket })).rejects.toMatchObject({ status: 400, code: 'InvalidRequest', message: expect.stringContaining('cache.enabled is false') });
    } finally {
      await gw.close();
    }
  });

  test('a dispatcher that cannot reach its node a few times: the batches are retried and the job completes', async () => {
    const local = localDispatcher(h.gw.buckets, 'n0');
    let rejections = 0;
    const flaky: LoadDispatcher = {
      ownerOf: local.ownerOf,
      async loadBatch(...args) {
        if (rejections < 3) {
          rejections++;
          throw new Error('connect ECONNREFUSED 10.0.0.2:9000');
        }
        return local.loadBatch(...args);
      },
    };
    const stateDir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-jobs-'));
    const jobsConfig = parseConfig({ dataDir: h.gw.dataDir, credentials: [{ accessKeyId: 'abc', secretAccessKey: 'abcdefgh' }], jobs: { stateDir, maxRetries: 3 } }).jobs;
    const quiet = { info: () => undefined, warn: () => undefined };
    const manager = await JobManager.open({ config: jobsConfig, buckets: h.gw.buckets, dispatcher: flaky, nodeId: 'n0', log: quiet, retryBaseMs: 5 });
    try {
      const spec = { bucket: Bucket, prefix: 'set/', options: { skipCached: false, metadataOnly: false, concurrency: 1, bandwidthBytesPerSecond: 0, maxFailures: { kind: 'count' as const, value: 0 } } };
      const job = await manager.submit(spec, 'test');
      await until(async () => isFinished(manager.get(job.id)?.state ?? 'running'));
      expect(manager.get(job.id)).toMatchObject({ state: 'completed', progress: { filesDone: 50, filesFailed: 0, retries: 3, bytesLoaded: TOTAL } });

      // Keys that keep failing: recorded with their reason; the job fails past the threshold.
      const failing: LoadDispatcher = {
        ownerOf: local.ownerOf,
        async loadBatch(node, bucket, items, options, signal) {
          const results = await local.loadBatch(node, bucket, items, options, signal);
          return results.map((r) => (r.key.includes('obj-1') ? { key: r.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: 'ServiceUnavailable: injected', retryable: true } : r));
        },
      };
      await manager.close();
      const second = await JobManager.open({ config: jobsConfig, buckets: h.gw.buckets, dispatcher: failing, nodeId: 'n0', log: quiet, retryBaseMs: 5 });
      try {
        const bad = await second.submit({ ...spec, options: { ...spec.options, maxFailures: { kind: 'count', value: 4 } } }, 'test');
        await until(async () => isFinished(second.get(bad.id)?.state ?? 'running'));
        const result = second.get(bad.id) as JobView;
        expect(result.state).toBe('failed');
        expect(result.reason).toMatch(/^\d+ of \d+ files failed, more than the threshold \(4 files\); last: set\/.*obj-1\d\.bin: ServiceUnavailable: injected$/);
        expect(result.progress.filesFailed).toBeGreaterThanOrEqual(5);
        expect(result.progress.recentFailures[0]).toMatchObject({ error: 'ServiceUnavailable: injected', attempts: 4 });
      } finally {
        await second.close();
      }
    } finally {
      await manager.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('load jobs against a slow store', () => {
  test('cancel stops the job mid-way and it reports cancelled', async () => {
    const h = await start({}, 40);
    try {
      await writeObjects(h.gw.dataDir);
      const job = await h.client.submit({ bucket: Bucket, prefix: 'set/', options: { concurrency: 1 } });
      await until(async () => (await h.client.get(job.id)).progress.filesDone >= 3);
      const cancelled = await h.client.cancel(job.id);
      expect(cancelled).toMatchObject({ state: 'cancelled', reason: `cancelled by ${ADMIN.accessKeyId}` });
      expect(cancelled.progress.filesDone).toBeLessThan(50);
      // Page reads already under way finish (the cache shares them with other readers); no new one starts.
      await sleep(150);
      const reads = h.ufs().reads.length;
      await sleep(300);
      expect(h.ufs().reads.length).toBe(reads);
      expect((await h.client.get(job.id)).progress).toEqual(cancelled.progress);
      // Cancelling a finished job changes nothing.
      expect(await h.client.cancel(job.id)).toMatchObject({ state: 'cancelled' });
    } finally {
      await h.gw.close();
    }
  });

  test('a gateway restarted while a job runs resumes it truthfully, and the prefix ends up fully cached', async () => {
    const first = await start({ keepDirs: true }, 40);
    const { dataDir, cacheDir } = first.gw;
    await writeObjects(dataDir);
    const job = await first.client.submit({ bucket: Bucket, prefix: 'set/', options: { concurrency: 1 } });
    await until(async () => (await first.client.get(job.id)).progress.filesDone >= 10);
    await first.gw.close();

    const second = await start({ dataDir, cacheDir });
    try {
      const done = await finished(second.client, job.id);
      expect(done).toMatchObject({ state: 'completed', resumes: 1 });
      expect(done.resumedAt).toBeDefined();
      const p = done.progress;
      expect(p).toMatchObject({ filesListed: 50, filesDone: 50, filesFailed: 0, bytesListed: TOTAL, bytesDone: TOTAL, filesTotal: 50 });
      expect(p.filesLoaded + p.filesSkipped).toBe(50);
      expect(p.bytesLoaded + p.bytesSkipped).toBe(TOTAL);
      const reads = await metric(second.gw, 'ringcache_ufs_reads_total');
      await getAll(second.gw);
      expect(await metric(second.gw, 'ringcache_ufs_reads_total')).toBe(reads);
    } finally {
      await second.gw.close();
      await rm(path.dirname(cacheDir), { recursive: true, force: true });
    }
  });
});

describe('ringcache load / jobs (the built CLI)', () => {
  if (!existsSync(CLI)) {
    test('needs a build (npm test runs `npm run build` first)', () => {
      throw new Error(`${CLI} is missing: run npm run build`);
    });
    return;
  }
  let h: Harness;
  beforeAll(async () => {
    h = await start();
    await writeObjects(h.gw.dataDir);
  });
  afterAll(() => h.gw.close());

  const run = (args: string[], endpoint = h.gw.url): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> =>
    new Promise((resolve) => {
      const started = Date.now();
      const child = spawn(process.execPath, [CLI, ...args, '--endpoint', endpoint], {
        env: { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: ADMIN.accessKeyId, AWS_SECRET_ACCESS_KEY: ADMIN.secretAccessKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
    });

  test('load prints progress lines, then a summary, and exits 0; the bandwidth limit holds', async () => {
    // 8 MiB/s with one second's worth up front: the ~26 MiB take about 2 s.
    const { code, stdout, stderr, ms } = await run(['load', `${Bucket}/set/`, '--bandwidth', '8MiB/s', '--no-skip-cached']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    const progress = lines.filter((l) => /^j\w+ (queued|running|completed) /.test(l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress[progress.length - 1]).toMatch(/completed  100%  \S+ MiB \/ \S+ MiB  files 50\/50 \(0 skipped, 0 failed\)/);
    expect(lines[0]).toMatch(/^job j\w+ started: /);
    expect(lines.find((l) => / completed in /.test(l))).toMatch(/^job j\w+ completed in 0:0\d: 50 files \(50 loaded, 0 skipped, 0 failed\), \S+ MiB loaded/);
    expect(ms).toBeGreaterThan(((TOTAL - 8 * MiB) / (8 * MiB)) * 1000 * 0.8);
  });

  test('--json prints the final job only; --detach the id; jobs lists them; errors exit 1 with the S3 code', async () => {
    const json = await run(['load', `${Bucket}/set/`, '--json', '--max-failures', '0']);
    expect(json.code).toBe(0);
    const job = JSON.parse(json.stdout) as JobView;
    expect(job).toMatchObject({ state: 'completed', spec: { bucket: Bucket, prefix: 'set/', options: { maxFailures: { kind: 'count', value: 0 } } }, progress: { filesDone: 50 } });

    const detached = await run(['load', `${Bucket}/meta/`, '--detach', '--metadata-only']);
    expect(detached.code).toBe(0);
    const id = detached.stdout.trim();
    expect(id).toMatch(/^j[0-9a-z]+$/);
    await finished(h.client, id);

    const list = await run(['jobs']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID +STATE +TARGET/);
    expect(list.stdout).toContain(`${id}  completed  ${Bucket}/meta/`);
    expect(list.stdout).toContain(job.id);
    const listed = JSON.parse((await run(['jobs', '--json'])).stdout) as JobView[];
    expect(listed.map((j) => j.id)).toEqual(expect.arrayContaining([id, job.id]));

    const missing = await run(['load', 'no-such-bucket/x']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NoSuchBucket');
    const usage = await run(['load', `${Bucket}/x`, '--bandwidth', 'fast']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('bandwidth "fast"');
  });

  test('an unknown flag or a bad --endpoint is a usage error (exit 2, one line, no stack trace)', async () => {
    for (const [args, endpoint, message] of [
      [['load', `${Bucket}/x`, '--bogus'], h.gw.url, "Unknown option '--bogus'"],
      [['jobs'], 'not a url', '--endpoint "not a url": expected a URL'],
      [['load', `${Bucket}/x`], 'ftp://127.0.0.1:9000', '--endpoint "ftp://127.0.0.1:9000"'],
    ] as const) {
      const result = await run([...args], endpoint);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).toContain('(ringcache --help shows the usage)');
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
