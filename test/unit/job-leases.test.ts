/**
 * Restarts and leases, over a real LMDB job store (temp dir) shared by several managers (as
 * processes sharing a state directory): a job released at shutdown resumes at once, under any
 * node id; a live process keeps its queued and running jobs; a dead one's jobs are taken over
 * once its lease expires (resumed, or failed with the reason); a process whose job was taken
 * over stops it.
 */
import { RESTART_QUEUED_REASON, RESTART_REASON } from '../../src/jobs/job-manager';
import { JobStore } from '../../src/jobs/job-store';
import { emptyProgress, type Job } from '../../src/jobs/job-types';
import { N, SIZE, SPEC, dispatcher, keys, until, useJobManagers } from '../helpers/job-manager-fixture';

const jobManagers = useJobManagers();
const open = jobManagers.open;

test('a job running at shutdown resumes at the next open from its checkpoint, counting nothing twice', async () => {
  const first = dispatcher(10);
  const manager = await open({ dispatcher: first });
  const job = await manager.submit(SPEC, 'a');
  await until(() => (manager.get(job.id)?.progress.filesDone ?? 0) >= 50);
  await manager.close();
  expect(first.sent.length).toBeLessThan(N);
  const store = JobStore.open(jobManagers.dir());
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

test('unfinished jobs whose lease is free or expired are failed with the reason when resumeOnRestart is off; a live lease is left alone', async () => {
  const store = JobStore.open(jobManagers.dir());
  const at = new Date().toISOString();
  const longAgo = new Date(Date.now() - 120_000).toISOString();
  const crashed: Job = { id: 'jcrash', spec: SPEC, state: 'running', coordinator: 'n0', submittedBy: 'a', createdAt: at, startedAt: at, updatedAt: longAgo, resumes: 0, progress: { ...emptyProgress(), filesListed: 12, filesDone: 10 }, lease: { holder: 'gone', renewedAt: longAgo } };
  await store.save(crashed);
  await store.save({ ...crashed, id: 'jqueued', state: 'queued', lease: undefined }); // released by a graceful shutdown
  // Another process's jobs: one renewed just now (alive: left alone, whatever its node id), one silent for two minutes.
  await store.save({ ...crashed, id: 'jalive', coordinator: 'n0', lease: { holder: 'other', renewedAt: at } });
  await store.save({ ...crashed, id: 'jorphan', coordinator: 'n9' });
  await store.close();

  const manager = await open({ jobs: { resumeOnRestart: false } });
  expect(manager.get('jcrash')).toMatchObject({ state: 'failed', reason: RESTART_REASON, progress: { filesDone: 10, etaSeconds: null } });
  expect(manager.get('jqueued')).toMatchObject({ state: 'failed', reason: RESTART_QUEUED_REASON });
  expect(manager.get('jcrash')?.finishedAt).toBeDefined();
  expect(manager.get('jalive')).toMatchObject({ state: 'running', coordinator: 'n0' });
  expect(manager.get('jorphan')).toMatchObject({ state: 'failed', reason: RESTART_REASON });
  expect(manager.get('jalive')).not.toHaveProperty('lease');
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a job released by a graceful close resumes at once under another node id (a recreated container)', async () => {
  const first = dispatcher(20);
  const a = await open({ nodeId: 'host-aaaa-9000', dispatcher: first });
  const job = await a.submit(SPEC, 'u');
  await until(() => (a.get(job.id)?.progress.filesDone ?? 0) >= 30);
  await a.close();
  const b = await open({ nodeId: 'host-bbbb-9000' });
  await until(() => b.get(job.id)?.state === 'completed', 3000);
  expect(b.get(job.id)).toMatchObject({ coordinator: 'host-bbbb-9000', resumes: 1, progress: { filesDone: N, filesFailed: 0 } });
});

test('a live process renews the leases of its queued jobs too: another process on the directory takes none of them', async () => {
  let offsetA = 0;
  const a = await open({ nodeId: 'A', dispatcher: dispatcher(100), heartbeatMs: 50, now: () => Date.now() + offsetA, jobs: { maxRunning: 1 } });
  const running = await a.submit(SPEC, 'u'); // about 2 s of work
  const queued = await a.submit(SPEC, 'u');
  offsetA = 61_000; // a minute passes (A's heartbeats go on)
  await sleep(200);
  const other = dispatcher(0);
  const b = await open({ nodeId: 'B', dispatcher: other, now: () => Date.now() + 61_000 });
  await b.sweep();
  await sleep(100);
  expect(other.sent).toEqual([]);
  expect([b.get(running.id)?.coordinator, b.get(queued.id)?.coordinator]).toEqual(['A', 'A']);
  // A leaves gracefully: B's next sweeps take both over.
  await a.close();
  await until(() => {
    void b.sweep();
    return b.get(running.id)?.state === 'completed' && b.get(queued.id)?.state === 'completed';
  }, 3000);
  expect(b.get(queued.id)).toMatchObject({ coordinator: 'B', resumes: 0, progress: { filesDone: N } });
});

test('a crashed process\'s job is left alone while its lease may be alive, then taken over by the periodic sweep', async () => {
  const store = JobStore.open(jobManagers.dir());
  const at = new Date().toISOString();
  await store.save({ id: 'jcrashed', spec: SPEC, state: 'running', coordinator: 'n0', submittedBy: 'a', createdAt: at, startedAt: at, updatedAt: at, resumes: 0, progress: emptyProgress(), lease: { holder: 'crashed', renewedAt: at } });
  await store.close();
  let offset = 0;
  const manager = await open({ now: () => Date.now() + offset });
  await manager.sweep();
  expect(manager.get('jcrashed')).toMatchObject({ state: 'running', resumes: 0 });
  offset = 61_000;
  await until(() => {
    void manager.sweep();
    return manager.get('jcrashed')?.state === 'completed';
  }, 3000);
  expect(manager.get('jcrashed')).toMatchObject({ resumes: 1, progress: { filesDone: N } });
});

test('a process whose job another process took over stops it and saves nothing more', async () => {
  const first = dispatcher(50);
  const a = await open({ nodeId: 'A', dispatcher: first, heartbeatMs: 50 });
  const job = await a.submit(SPEC, 'u');
  await until(() => first.sent.length >= 20);
  // B judges leases older than 20 ms dead (as if A had hung): it takes the job.
  const b = await open({ nodeId: 'B', leaseMs: 20 });
  await until(() => b.get(job.id)?.state === 'completed', 3000);
  const sentByA = first.sent.length;
  await sleep(200);
  expect(first.sent.length).toBe(sentByA);
  expect(sentByA).toBeLessThan(N);
  expect(a.get(job.id)).toMatchObject({ state: 'completed', coordinator: 'B', progress: { filesDone: N } });
});

test('a queued job that another process claimed, and finished, meanwhile is not run here when its turn comes', async () => {
  const first = dispatcher(30);
  // Default heartbeat (10 s): A does not renew its leases during the test, as if it hung.
  const a = await open({ nodeId: 'A', dispatcher: first, jobs: { maxRunning: 1 } });
  const running = await a.submit({ ...SPEC, prefix: 'k00' }, 'u');
  const queued = await a.submit({ ...SPEC, prefix: 'k01' }, 'u');
  await sleep(100);
  const b = await open({ nodeId: 'B', leaseMs: 50 });
  await until(() => b.get(queued.id)?.state === 'completed' && b.get(running.id)?.state === 'completed', 3000);
  await until(() => (a as unknown as { active: Map<string, unknown> }).active.size === 0, 3000);
  await sleep(100);
  expect(first.sent.filter((k) => k.startsWith('k01'))).toEqual([]);
  expect(a.get(queued.id)).toMatchObject({ state: 'completed', coordinator: 'B', progress: { filesDone: 100 } });
});
