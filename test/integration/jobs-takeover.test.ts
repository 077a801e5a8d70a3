/**
 * A preload job survives its coordinator (issue #13, defect 4), with real gateway processes: the
 * coordinator is killed with -9 mid-job; every other node keeps answering for the job (never
 * NoSuchJob), shows it `running` only while a live coordinator holds its lease, and one of them
 * takes it over once the lease lapses and finishes it from the last checkpoint, every file
 * counted exactly once. The old coordinator, restarted, shows the job as it ended, not a frozen
 * `running`.
 *
 * Before the fix the job lived only on its coordinator: the other nodes answered NoSuchJob, and
 * the job was lost unless that very node came back.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JobsClient } from '../../src/cli/jobs-client';
import { AdminRequestError } from '../../src/cli/admin-client';
import { isFinished, type JobView } from '../../src/jobs/job-types';
import { ADMIN } from '../helpers/gateway';
import { startTestCluster, waitFor, waitForRings, type NodeProcess, type TestCluster } from '../helpers/cluster-processes';

jest.setTimeout(180_000);

const KiB = 1024;
const BUCKET = 'lake';
const FILES = 240;
const SIZE = 256 * KiB;
const LEASE_SECONDS = 3;

const jobsClient = (node: NodeProcess): JobsClient => new JobsClient(node.url, { ...ADMIN, region: 'us-east-1' });

describe('a coordinator killed mid-job', () => {
  let cluster: TestCluster;
  afterAll(() => cluster?.stop());

  it('another node takes the job over when its lease lapses and finishes it, nothing counted twice', async () => {
    cluster = await startTestCluster(3, { config: { jobs: { leaseSeconds: LEASE_SECONDS } } });
    const [a, b, c] = cluster.nodes;
    await waitForRings(cluster.nodes, 3);
    for (let i = 0; i < FILES; i++) {
      const file = path.join(cluster.dataDir, BUCKET, 'takeover', `obj-${String(i).padStart(3, '0')}.bin`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, randomBytes(SIZE));
    }
    // A bandwidth limit stretches the job over several seconds (60 MiB at 8 MiB/s), so the kill lands mid-job.
    const submitted = await jobsClient(c).submit({ bucket: BUCKET, prefix: 'takeover/', options: { concurrency: 4, bandwidth: '8MiB/s' } });
    expect(submitted.coordinator).toBe('node-c');
    // Every node knows the job as soon as it is acknowledged.
    for (const node of [a, b]) expect((await jobsClient(node).get(submitted.id)).id).toBe(submitted.id);
    await waitFor(async () => (await jobsClient(a).get(submitted.id)).progress.filesDone >= 40, 60_000, 'the job under way');

    await cluster.kill(c, 'SIGKILL');
    const killedAt = Date.now();

    // Until it ends: a and b always answer for the job, and it is `running` under node-c only
    // while node-c's lease may still be alive.
    const seen: { at: number; via: string; state: string; coordinator: string; filesDone: number }[] = [];
    let job: JobView | undefined;
    while (!job || !isFinished(job.state)) {
      if (Date.now() - killedAt > 120_000) throw new Error(`the job did not finish: ${JSON.stringify(seen.slice(-5))}`);
      for (const node of [a, b]) {
        job = await jobsClient(node).get(submitted.id); // NoSuchJob would throw
        seen.push({ at: Date.now() - killedAt, via: node.id, state: job.state, coordinator: job.coordinator, filesDone: job.progress.filesDone });
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const staleRunning = seen.filter((s) => s.state === 'running' && s.coordinator === 'node-c' && s.at > (LEASE_SECONDS + 1.5) * 1000);
    expect(staleRunning).toEqual([]);
    expect(seen.some((s) => s.state === 'running' && s.coordinator !== 'node-c')).toBe(true);

    const done = await jobsClient(a).get(submitted.id);
    const p = done.progress;
    expect({ state: done.state, coordinator: ['node-a', 'node-b'].includes(done.coordinator), resumed: done.resumes >= 1 }).toEqual({ state: 'completed', coordinator: true, resumed: true });
    // Exact: every listed file once, and its bytes once.
    expect({ listed: p.filesListed, done: p.filesDone, loadedSkippedFailed: p.filesLoaded + p.filesSkipped + p.filesFailed, failed: p.filesFailed, bytesDone: p.bytesDone, total: p.filesTotal }).toEqual({
      listed: FILES,
      done: FILES,
      loadedSkippedFailed: FILES,
      failed: 0,
      bytesDone: FILES * SIZE,
      total: FILES,
    });
    // Both nodes list it once.
    for (const node of [a, b]) expect((await jobsClient(node).list()).filter((j) => j.id === submitted.id)).toHaveLength(1);

    // The old coordinator comes back: it shows the job as it ended (learnt from the others), and does not run it again.
    await cluster.start(c);
    await waitForRings(cluster.nodes, 3);
    const fromC = await jobsClient(c).get(submitted.id);
    expect({ state: fromC.state, filesDone: fromC.progress.filesDone, coordinator: fromC.coordinator }).toEqual({ state: 'completed', filesDone: FILES, coordinator: done.coordinator });
  });

  it('a job nobody holds any more can be cancelled through any node', async () => {
    const [a, b] = cluster.nodes;
    const c = cluster.nodes[2];
    const submitted = await jobsClient(c).submit({ bucket: BUCKET, prefix: 'takeover/', options: { concurrency: 1, bandwidth: '1MiB/s', skipCached: false } });
    await waitFor(async () => (await jobsClient(a).get(submitted.id)).progress.filesDone >= 2, 60_000, 'the job under way');
    // A cancel while the coordinator lives goes to it.
    const other = await jobsClient(c).submit({ bucket: BUCKET, prefix: 'takeover/obj-00', options: { concurrency: 1, bandwidth: '1MiB/s', skipCached: false } });
    const cancelled = await jobsClient(b).cancel(other.id);
    expect({ state: cancelled.state, reason: cancelled.reason }).toEqual({ state: 'cancelled', reason: `cancelled by ${ADMIN.accessKeyId}` });
    // The coordinator dies. A cancel through another node answers 503 (retry) while its lease may
    // be alive, then ends the job there.
    await cluster.kill(c, 'SIGKILL');
    const answers: string[] = [];
    await waitFor(
      async () => {
        const answer = await jobsClient(a).cancel(submitted.id).catch((err: unknown) => err);
        if (!(answer instanceof AdminRequestError)) return (answer as JobView).state === 'cancelled';
        answers.push(`${answer.status} ${answer.code}`);
        if (answer.status !== 503) throw answer;
        return false;
      },
      30_000,
      'the cancel of a job whose coordinator is gone',
    );
    await waitFor(async () => (await jobsClient(b).get(submitted.id)).state === 'cancelled', 10_000, 'the cancel seen through node-b');
    expect(answers.every((s) => s.startsWith('503'))).toBe(true);
  });
});
