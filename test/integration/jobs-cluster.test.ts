/**
 * Preload jobs on three gateway processes: a job over 500 objects of mixed sizes warms each
 * object into its owner's cache (afterwards, reading everything through any node costs zero
 * store reads, and the pages sit on the owners only); a node killed mid-job leads to retries
 * on the keys' next owners and a truthful final report; a missing prefix completes empty; a bad
 * bucket is a clear error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { buildRing } from '../../src/cluster/ring';
import { ringKey } from '../../src/cluster/cluster-node';
import { AdminRequestError } from '../../src/cli/admin-client';
import { JobsClient } from '../../src/cli/jobs-client';
import { isFinished, type JobView } from '../../src/jobs/job-types';
import { ADMIN, bodyBytes } from '../helpers/gateway';
import { rawRequest } from '../helpers/raw-request';
import { metricValue, startTestCluster, waitFor, waitForRings, waitForSettled, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(180_000);

const KiB = 1024;
const MiB = 1024 * KiB;
const BUCKET = 'lake';

const jobsClient = (node: NodeProcess): JobsClient => new JobsClient(node.url, { ...ADMIN, region: 'us-east-1' });

async function finished(client: JobsClient, id: string, timeoutMs = 120_000): Promise<JobView> {
  let job = await client.get(id);
  const deadline = Date.now() + timeoutMs;
  while (!isFinished(job.state) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    job = await client.get(id);
  }
  return job;
}

/** Writes objects straight into the shared store (as another NFS client would). */
async function writeObjects(cluster: TestCluster, prefix: string, sizes: number[]): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  for (let i = 0; i < sizes.length; i++) {
    const key = `${prefix}${i % 4 === 0 ? 'part-a/' : 'part-b/'}obj-${String(i).padStart(3, '0')}.bin`;
    const body = randomBytes(sizes[i]);
    const file = path.join(cluster.dataDir, BUCKET, key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, body);
    hashes.set(key, createHash('sha256').update(body).digest('hex'));
  }
  return hashes;
}

async function storeReads(cluster: TestCluster, nodes: NodeProcess[]): Promise<{ reads: number; stats: number }> {
  let reads = 0;
  let stats = 0;
  for (const node of nodes) {
    const text = await cluster.metrics(node);
    reads += metricValue(text, 'ringcache_ufs_reads_total');
    stats += metricValue(text, 'ringcache_ufs_stats_total');
  }
  return { reads, stats };
}

describe('a load job on three nodes', () => {
  let cluster: TestCluster;
  let objects: Map<string, string>;
  const sizes = Array.from({ length: 500 }, (_, i) => {
    const kind = i % 10;
    if (kind === 0) return 0;
    if (kind <= 4) return 1 + ((i * 977) % (8 * KiB));
    if (kind <= 8) return 50 * KiB + ((i * 7919) % (350 * KiB));
    return MiB + ((i * 104729) % (1.5 * MiB));
  });
  const total = sizes.reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    cluster = await startTestCluster(3);
    // Ownership by agreement: a node caches a key only once it holds its lease and the key's
    // fence and cache grace have passed (until then it reads the store without keeping pages),
    // so the job starts on a settled cluster.
    await waitForSettled(cluster.nodes, 3);
    objects = await writeObjects(cluster, 'events/', sizes);
  });
  afterAll(() => cluster?.stop());

  it('completes with exact counts; then every GET through any node costs zero store reads', async () => {
    const client = jobsClient(cluster.nodes[0]);
    const submitted = await client.submit({ bucket: BUCKET, prefix: 'events/', options: { concurrency: 8 } });
    const job = await finished(client, submitted.id);
    expect(job.state).toBe('completed');
    expect(job.progress).toMatchObject({ filesListed: 500, bytesListed: total, filesDone: 500, filesFailed: 0, bytesLoaded: total });
    expect(job.progress.filesLoaded + job.progress.filesSkipped).toBe(500);
    const coordinatorMetrics = await cluster.metrics(cluster.nodes[0]);
    expect(metricValue(coordinatorMetrics, 'ringcache_jobs', { state: 'completed' })).toBe(1);
    // Counters of the keys the coordinator's jobs finished (they never drop when jobs expire).
    expect(metricValue(coordinatorMetrics, 'ringcache_jobs_bytes_total', { result: 'loaded' })).toBe(total);
    expect(metricValue(coordinatorMetrics, 'ringcache_jobs_bytes_total', { result: 'failed' })).toBe(0);
    expect(metricValue(coordinatorMetrics, 'ringcache_jobs_keys_total', { result: 'loaded' }) + metricValue(coordinatorMetrics, 'ringcache_jobs_keys_total', { result: 'skipped' })).toBe(500);
    // No other node coordinated anything.
    expect(metricValue(await cluster.metrics(cluster.nodes[1]), 'ringcache_jobs_keys_total')).toBe(0);

    const before = await storeReads(cluster, cluster.nodes);
    let i = 0;
    for (const [key, hash] of objects) {
      const node = cluster.nodes[i++ % 3];
      const got = await cluster.client(node).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(createHash('sha256').update(await bodyBytes(got.Body)).digest('hex')).toBe(hash);
    }
    const after = await storeReads(cluster, cluster.nodes);
    expect(after.reads - before.reads).toBe(0);
    expect(after.stats - before.stats).toBe(0);
    // The job's and the batches' signals carried one abort listener each, not one per page in flight.
    for (const node of cluster.nodes) expect(node.output).not.toContain('MaxListenersExceededWarning');
  });

  it("each object's pages sit on its owner, and on no other node", async () => {
    const ring = buildRing(cluster.nodes.map((n) => n.id));
    let checked = 0;
    for (const [index, key] of [...objects.keys()].entries()) {
      if (sizes[index] === 0) continue;
      const pages = Math.ceil(sizes[index] / MiB);
      for (const node of cluster.nodes) {
        const response = await rawRequest(node.url, { method: 'GET', path: '/_ringcache/cache/object', query: { bucket: BUCKET, key } });
        const held = JSON.parse(response.body) as { cached: boolean; memory?: number; disk?: number };
        if (node.id === ring.owner(ringKey(BUCKET, key))) {
          expect((held.memory ?? 0) + (held.disk ?? 0)).toBe(pages);
        } else {
          expect(held.cached).toBe(false);
        }
      }
      checked++;
    }
    expect(checked).toBe(450);
  });

  it('any node shows, lists and cancels a job coordinated by another (clients behind a load balancer)', async () => {
    const [a, b, c] = cluster.nodes;
    const submitted = await jobsClient(a).submit({ bucket: BUCKET, prefix: 'events/part-a/', options: { bandwidth: '2MiB/s' } });
    const viaB = await jobsClient(b).get(submitted.id);
    expect(viaB).toMatchObject({ id: submitted.id, coordinator: 'node-a' });
    const listed = await jobsClient(c).list();
    expect(listed.map((j) => j.id)).toContain(submitted.id);
    expect(new Set(listed.map((j) => j.id)).size).toBe(listed.length);
    const cancelled = await jobsClient(c).cancel(submitted.id);
    expect(['cancelled', 'completed']).toContain(cancelled.state);
    expect((await jobsClient(b).get(submitted.id)).state).toBe(cancelled.state);
    const unknown = await jobsClient(b).get('j0000000000000000').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(unknown).toMatchObject({ status: 404, code: 'NoSuchJob' });
  });

  it('a missing prefix gives an empty completed job; a bad bucket a clear error', async () => {
    const client = jobsClient(cluster.nodes[1]);
    const empty = await finished(client, (await client.submit({ bucket: BUCKET, prefix: 'no/such/prefix/' })).id);
    expect(empty).toMatchObject({ state: 'completed', progress: { filesListed: 0, bytesListed: 0, filesFailed: 0 } });
    const error = await client.submit({ bucket: 'no-such-bucket', prefix: '' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(AdminRequestError);
    expect(error).toMatchObject({ status: 404, code: 'NoSuchBucket' });
  });
});

describe('a node killed during a load job', () => {
  let cluster: TestCluster;
  afterAll(() => cluster?.stop());

  it('the coordinator retries on the next owners and reports the outcome truthfully', async () => {
    cluster = await startTestCluster(3);
    const [a, b, c] = cluster.nodes;
    await waitForSettled(cluster.nodes, 3);
    const sizes = Array.from({ length: 240 }, () => 512 * KiB);
    await writeObjects(cluster, 'slow/', sizes);
    const client = jobsClient(a);
    // A bandwidth limit stretches the job over several seconds, so the kill lands mid-job.
    const submitted = await client.submit({ bucket: BUCKET, prefix: 'slow/', options: { concurrency: 4, bandwidth: '24MiB/s' } });
    await waitFor(async () => (await client.get(submitted.id)).progress.filesDone >= 60, 30_000, 'a quarter done');
    await cluster.kill(c, 'SIGKILL');
    const job = await finished(client, submitted.id);
    const p = job.progress;
    // Truthful: every listed file is accounted for exactly once.
    expect(p.filesListed).toBe(240);
    expect(p.filesDone).toBe(240);
    expect(p.filesLoaded + p.filesSkipped + p.filesFailed).toBe(240);
    expect(p.retries).toBeGreaterThan(0);
    // The keys c owned went to their next owners: nothing was lost.
    expect(job.state).toBe('completed');
    expect(p.filesFailed).toBe(0);
    // Keys a and b owned all along are cached there: reading them costs no store reads. (Keys
    // that c had already loaded before it died went with it; their new owners read them once.)
    await waitForRings([a, b], 2, 10_000);
    const ring3 = buildRing(['node-a', 'node-b', 'node-c']);
    const keys = sizes.map((_, i) => `slow/${i % 4 === 0 ? 'part-a/' : 'part-b/'}obj-${String(i).padStart(3, '0')}.bin`);
    const before = await storeReads(cluster, [a, b]);
    for (const key of keys.filter((k) => ring3.owner(ringKey(BUCKET, k)) !== 'node-c')) {
      const got = await cluster.client(b).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect((await bodyBytes(got.Body)).length).toBe(512 * KiB);
    }
    const after = await storeReads(cluster, [a, b]);
    expect(after.reads - before.reads).toBe(0);
  });
});
