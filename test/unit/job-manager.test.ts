/**
 * The job manager over a real LMDB job store (temp dir) and an in-memory listing: queueing,
 * cancel, persistence while running, restart (resume from the checkpoint, or fail with the
 * reason), and retention of finished jobs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ListEntry, ListOptions } from '../../ufs-adapters/types';
import type { BucketRegistry } from '../../src/mounts/bucket-registry';
import { s3Error } from '../../src/s3/errors';
import { CachingAdapter } from '../../src/cache/caching-adapter';
import { parseConfig } from '../../src/config/load-config';
import { JobManager, RESTART_QUEUED_REASON, RESTART_REASON, type JobManagerOptions } from '../../src/jobs/job-manager';
import { JobStore } from '../../src/jobs/job-store';
import { emptyProgress, type Job, type JobSpec } from '../../src/jobs/job-types';
import type { LoadDispatcher, LoadTarget } from '../../src/jobs/load-dispatcher';

const N = 200;
const keys = Array.from({ length: N }, (_, i) => `k${String(i).padStart(4, '0')}`);
const SIZE = 100;

const buckets = {
  get: async (name: string) => {
    if (name !== 'b') throw s3Error('NoSuchBucket');
    return {
      name,
      // A cache in front of the bucket is all the manager checks; the dispatcher does the loading.
      adapter: Object.assign(Object.create(CachingAdapter.prototype) as CachingAdapter, {
        async *list(options: ListOptions): AsyncIterable<ListEntry> {
          for (const key of keys) {
            if (key.startsWith(options.prefix) && (options.startAfter === undefined || key > options.startAfter)) yield { kind: 'object', key, size: SIZE, etag: '"e"', lastModified: new Date(0) };
          }
        },
      }),
    };
  },
} as unknown as BucketRegistry;

/** Loads everything, `delayMs` per batch; remembers the keys it was sent. */
function dispatcher(delayMs: number): LoadDispatcher & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    ownerOf: () => 'n0',
    async loadBatch(_node, _bucket, items: readonly LoadTarget[], _options, signal) {
      await new Promise((r) => setTimeout(r, delayMs));
      signal.throwIfAborted();
      sent.push(...items.map((i) => i.key));
      return items.map((t) => ({ key: t.key, ok: true, bytesLoaded: t.size, bytesSkipped: 0 }));
    },
  };
}

const SPEC: JobSpec = { bucket: 'b', prefix: '', options: { skipCached: true, metadataOnly: false, concurrency: 1, bandwidthBytesPerSecond: 0, maxFailures: { kind: 'count', value: 0 } } };

let dir: string;
const opened: JobManager[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-jobs-'));
});
afterEach(async () => {
  for (const m of opened.splice(0)) await m.close();
  await rm(dir, { recursive: true, force: true });
});

const quiet = { info: () => undefined, warn: () => undefined };

async function open(overrides: Partial<JobManagerOptions> & { jobs?: Record<string, unknown> } = {}): Promise<JobManager> {
  const config = parseConfig({ dataDir: '/tmp/unused', credentials: [{ accessKeyId: 'abc', secretAccessKey: 'abcdefgh' }], jobs: { stateDir: dir, batchKeys: 10, ...overrides.jobs } });
  const manager = await JobManager.open({ config: config.jobs, buckets, dispatcher: dispatcher(0), nodeId: 'n0', log: quiet, retryBaseMs: 1, ...overrides });
  opened.push(manager);
  return manager;
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('jobs run to completion, queue beyond maxRunning, cancel while queued, and outlive the manager', async () => {
  const slow = dispatcher(20);
  const manager = await open({ dispatcher: slow, jobs: { maxRunning: 1 } });
  const first = await manager.submit(SPEC, 'alice');
  const second = await manager.submit({ ...SPEC, prefix: 'k00' }, 'bob');
  const third = await manager.submit({ ...SPEC, prefix: 'k01' }, 'bob');
  expect([first.state, second.state, third.state]).toEqual(['running', 'queued', 'queued']);
  expect(await manager.cancel(third.id, 'bob')).toMatchObject({ state: 'cancelled', reason: 'cancelled by bob' });
  await until(() => manager.get(second.id)?.state === 'completed');
  expect(manager.get(first.id)).toMatchObject({ state: 'completed', coordinator: 'n0', submittedBy: 'alice', progress: { filesDone: N, bytesLoaded: N * SIZE, etaSeconds: 0 } });
  expect(manager.get(second.id)?.progress.filesDone).toBe(100);
  expect(manager.list().map((j) => j.id)).toEqual([third.id, second.id, first.id]);
  expect(manager.get(first.id)).not.toHaveProperty('checkpoint');
  await expect(manager.submit({ ...SPEC, bucket: 'nope' }, 'a')).rejects.toMatchObject({ code: 'NoSuchBucket' });
  await manager.close();

  const reopened = await open();
  expect(reopened.list().map((j) => [j.id, j.state])).toEqual([
    [third.id, 'cancelled'],
    [second.id, 'completed'],
    [first.id, 'completed'],
  ]);
  expect(reopened.get(first.id)?.progress).toMatchObject({ filesDone: N, filesLoaded: N, bytesLoaded: N * SIZE, listingComplete: true });
});

test('a running job is persisted about once a second, with its checkpoint', async () => {
  const manager = await open({ dispatcher: dispatcher(100) }); // 20 batches: 2 s
  const job = await manager.submit(SPEC, 'a');
  await new Promise((r) => setTimeout(r, 1300));
  const stored = (manager as unknown as { store: JobStore }).store.get(job.id) as Job;
  expect(stored.state).toBe('running');
  expect(stored.progress.filesDone).toBeGreaterThan(0);
  expect(stored.checkpoint?.counters.filesDone).toBeGreaterThan(0);
  expect(Date.now() - Date.parse(stored.updatedAt)).toBeLessThan(1500);
});

test('a job running at shutdown resumes at the next open from its checkpoint, counting nothing twice', async () => {
  const first = dispatcher(10);
  const manager = await open({ dispatcher: first });
  const job = await manager.submit(SPEC, 'a');
  await until(() => (manager.get(job.id)?.progress.filesDone ?? 0) >= 50);
  await manager.close();
  expect(first.sent.length).toBeLessThan(N);
  const store = JobStore.open(dir);
  const saved = store.get(job.id) as Job;
  await store.close();
  expect(saved.state).toBe('running');
  const afterKey = saved.checkpoint?.afterKey as string;
  expect(keys.filter((k) => k <= afterKey).every((k) => first.sent.includes(k))).toBe(true);

  const second = dispatcher(0);
  const restarted = await open({ dispatcher: second });
  await until(() => restarted.get(job.id)?.state === 'completed');
  const done = restarted.get(job.id);
  expect(done).toMatchObject({ resumes: 1, progress: { filesListed: N, filesDone: N, filesLoaded: N, bytesLoaded: N * SIZE, bytesDone: N * SIZE, filesTotal: N } });
  expect(done?.resumedAt).toBeDefined();
  // The second coordinator started after the checkpoint; between them every key was sent.
  expect(second.sent.every((k) => k > afterKey)).toBe(true);
  expect(second.sent).toHaveLength(keys.filter((k) => k > afterKey).length);
  expect(new Set([...first.sent, ...second.sent]).size).toBe(N);
});

test('a job left running by a crashed coordinator is failed with the reason when resumeOnRestart is off; a live coordinator\'s job is left alone', async () => {
  const store = JobStore.open(dir);
  const at = new Date().toISOString();
  const crashed: Job = { id: 'jcrash', spec: SPEC, state: 'running', coordinator: 'n0', submittedBy: 'a', createdAt: at, startedAt: at, updatedAt: at, resumes: 0, progress: { ...emptyProgress(), filesListed: 12, filesDone: 10 } };
  await store.save(crashed);
  await store.save({ ...crashed, id: 'jqueued', state: 'queued' });
  // Another coordinator's jobs: one saved just now (alive: left alone), one silent for two minutes (orphaned).
  await store.save({ ...crashed, id: 'jalive', coordinator: 'n9' });
  await store.save({ ...crashed, id: 'jorphan', coordinator: 'n9', updatedAt: new Date(Date.now() - 120_000).toISOString() });
  await store.close();

  const manager = await open({ jobs: { resumeOnRestart: false } });
  expect(manager.get('jcrash')).toMatchObject({ state: 'failed', reason: RESTART_REASON, progress: { filesDone: 10, etaSeconds: null } });
  expect(manager.get('jqueued')).toMatchObject({ state: 'failed', reason: RESTART_QUEUED_REASON });
  expect(manager.get('jcrash')?.finishedAt).toBeDefined();
  expect(manager.get('jalive')).toMatchObject({ state: 'running', coordinator: 'n9' });
  expect(manager.get('jorphan')).toMatchObject({ state: 'failed', reason: RESTART_REASON });
});

test('finished jobs are forgotten after retainFinishedSeconds; running ones never', async () => {
  let offset = 0;
  const manager = await open({ now: () => Date.now() + offset, jobs: { retainFinishedSeconds: 60 } });
  const done = await manager.submit(SPEC, 'a');
  await until(() => manager.get(done.id)?.state === 'completed');
  offset = 59_000;
  expect(manager.get(done.id)?.state).toBe('completed');
  expect(await manager.purgeExpired()).toBe(0);
  offset = 61_000;
  expect(manager.get(done.id)).toBeUndefined();
  expect(manager.list()).toEqual([]);
  expect(await manager.purgeExpired()).toBe(1);
  expect((manager as unknown as { store: JobStore }).store.list()).toEqual([]);
});
