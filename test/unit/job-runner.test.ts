/**
 * The load-job runner against an in-memory listing and scripted dispatchers: batching per
 * owner, the concurrency limit, bounded retries, per-key failures and the threshold, cancel,
 * listing errors, resuming from a checkpoint, and one slow key that does not stall the job.
 * Cancel and shutdown: job-stop.test.ts.
 */
import { ufsError } from '../../ufs-adapters/errors';
import type { ListEntry, ListOptions } from '../../ufs-adapters/types';
import { LoadJobRunner } from '../../src/jobs/load-job';
import type { JobCheckpoint, KeyFailure } from '../../src/jobs/job-types';
import type { KeyLoadResult, LoadDispatcher, LoadTarget } from '../../src/jobs/load-dispatcher';
import { fakeBuckets, keyName, makeJob, objects, ok, SETTINGS } from '../helpers/load-job-fixture';

/** Records every call; `answer` decides the outcome of each. */
function scripted(answer: (node: string, items: readonly LoadTarget[], call: number) => Promise<KeyLoadResult[]> | KeyLoadResult[], owners = 3) {
  const calls: { node: string; keys: string[] }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const dispatcher: LoadDispatcher = {
    ownerOf: (_bucket, key) => `n${Number(key.slice(-3)) % owners}`,
    async loadBatch(node, _bucket, items) {
      calls.push({ node, keys: items.map((i) => i.key) });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        await new Promise((r) => setTimeout(r, 2));
        return await answer(node, items, calls.length);
      } finally {
        inFlight--;
      }
    },
  };
  return { dispatcher, calls, maxInFlight: () => maxInFlight };
}

test('keys go to their owner in bounded batches, with at most `concurrency` batches in flight; counts are exact', async () => {
  const entries = objects(100);
  const { dispatcher, calls, maxInFlight } = scripted((_n, items) => items.map(ok));
  const runner = new LoadJobRunner(makeJob({ concurrency: 2 }), { buckets: fakeBuckets([...entries, ...objects(3).map((e) => ({ ...e, key: `other/${(e as { key: string }).key}` }))] as ListEntry[]), dispatcher, settings: SETTINGS });
  expect(await runner.run()).toEqual({ state: 'completed' });
  for (const call of calls) {
    expect(call.keys.length).toBeLessThanOrEqual(SETTINGS.batchKeys);
    for (const key of call.keys) expect(dispatcher.ownerOf('b', key)).toBe(call.node);
  }
  expect(calls.flatMap((c) => c.keys).sort()).toEqual(entries.map((e) => (e as { key: string }).key));
  expect(maxInFlight()).toBeLessThanOrEqual(2);
  const p = runner.progress();
  const bytes = entries.reduce((n, e) => n + (e as { size: number }).size, 0);
  expect(p).toMatchObject({ filesListed: 100, filesDone: 100, filesLoaded: 100, filesFailed: 0, bytesLoaded: bytes, bytesListed: bytes, listingComplete: true, filesTotal: 100, bytesTotal: bytes });
});

test('a batch whose node cannot be reached is retried (bounded) and the job completes', async () => {
  let failures = 0;
  const { dispatcher, calls } = scripted((_n, items) => {
    if (failures < 2) {
      failures++;
      throw new Error('connect ECONNREFUSED');
    }
    return items.map(ok);
  }, 1);
  const runner = new LoadJobRunner(makeJob(), { buckets: fakeBuckets(objects(5)), dispatcher, settings: SETTINGS });
  expect(await runner.run()).toEqual({ state: 'completed' });
  expect(calls).toHaveLength(3);
  expect(runner.progress()).toMatchObject({ filesDone: 5, filesLoaded: 5, filesFailed: 0, retries: 2 });
});

test('a node that stays unreachable: its keys fail after maxRetries + 1 attempts, and the job fails past the threshold', async () => {
  const { dispatcher } = scripted((node, items) => {
    if (node === 'n1') throw new Error('connect ECONNREFUSED');
    return items.map(ok);
  });
  const runner = new LoadJobRunner(makeJob({ maxFailures: { kind: 'count', value: 100 } }), { buckets: fakeBuckets(objects(30)), dispatcher, settings: SETTINGS });
  const outcome = await runner.run();
  const p = runner.progress();
  expect(outcome).toEqual({ state: 'completed' });
  expect(p.filesFailed).toBe(10); // k001, k004, ... k028
  expect(p.filesLoaded).toBe(20);
  expect(p.recentFailures).toHaveLength(SETTINGS.recentFailures);
  expect(p.recentFailures[0]).toMatchObject({ attempts: SETTINGS.maxRetries + 1 });
  expect(p.recentFailures[0].error).toMatch(/^Unreachable: node n1: connect ECONNREFUSED/);

  const strict = new LoadJobRunner(makeJob({ maxFailures: { kind: 'count', value: 3 } }), { buckets: fakeBuckets(objects(30)), dispatcher, settings: SETTINGS });
  const failed = await strict.run();
  expect(failed.state).toBe('failed');
  expect((failed as { reason: string }).reason).toMatch(/files failed, more than the threshold \(3 files\)/);
});

test('retryable key errors are retried; others are recorded at once with their reason', async () => {
  const seen = new Map<string, number>();
  const { dispatcher } = scripted((_n, items) =>
    items.map((t) => {
      const n = (seen.get(t.key) ?? 0) + 1;
      seen.set(t.key, n);
      if (t.key.endsWith('3') && n === 1) return { key: t.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: 'SlowDown: slow', retryable: true };
      if (t.key.endsWith('7')) return { key: t.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: 'NoSuchKey: gone', retryable: false };
      return ok(t);
    }),
  );
  const runner = new LoadJobRunner(makeJob({ maxFailures: { kind: 'fraction', value: 0.5 } }), { buckets: fakeBuckets(objects(20)), dispatcher, settings: SETTINGS });
  expect(await runner.run()).toEqual({ state: 'completed' });
  const p = runner.progress();
  expect(p).toMatchObject({ filesDone: 20, filesLoaded: 18, filesFailed: 2 });
  expect(p.recentFailures.map((f) => [f.key, f.error, f.attempts])).toEqual([
    [keyName(7), 'NoSuchKey: gone', 1],
    [keyName(17), 'NoSuchKey: gone', 1],
  ]);
  expect(seen.get(keyName(3))).toBe(2);
  expect(seen.get(keyName(7))).toBe(1);
});

test('a share threshold is judged on the files done: 10% failed fails a 5% job, not a 15% one', async () => {
  const failTenth = scripted((_n, items) => items.map((t) => (Number(t.key.slice(-3)) % 10 === 0 ? { key: t.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: 'AccessDenied: no' } : ok(t))));
  const loose = new LoadJobRunner(makeJob({ maxFailures: { kind: 'fraction', value: 0.15 } }), { buckets: fakeBuckets(objects(200)), dispatcher: failTenth.dispatcher, settings: SETTINGS });
  expect(await loose.run()).toEqual({ state: 'completed' });
  expect(loose.progress().filesFailed).toBe(20);
  const strict = new LoadJobRunner(makeJob({ maxFailures: { kind: 'fraction', value: 0.05 } }), { buckets: fakeBuckets(objects(200)), dispatcher: failTenth.dispatcher, settings: SETTINGS });
  const outcome = await strict.run();
  expect(outcome.state).toBe('failed');
  expect((outcome as { reason: string }).reason).toMatch(/more than the threshold \(5% of the files\); last: data\/k\d+0: AccessDenied: no/);
});

test('a listing error worth retrying resumes after the last key listed; other listing errors fail the job', async () => {
  const lists: ListOptions[] = [];
  let thrown = false;
  const flaky = fakeBuckets(objects(20), {
    lists,
    failAt: (key, _options, call) => {
      if (key === keyName(12) && !thrown && call === 1) {
        thrown = true;
        return ufsError('Unavailable', 'store down');
      }
      return undefined;
    },
  });
  const { dispatcher, calls } = scripted((_n, items) => items.map(ok));
  const runner = new LoadJobRunner(makeJob(), { buckets: flaky, dispatcher, settings: SETTINGS });
  expect(await runner.run()).toEqual({ state: 'completed' });
  expect(calls.flatMap((c) => c.keys).sort()).toEqual(objects(20).map((e) => (e as { key: string }).key));
  expect(lists.some((l) => l.startAfter === keyName(11))).toBe(true);

  const denied = fakeBuckets(objects(20), { failAt: () => ufsError('Denied', 'permission denied') });
  const failing = new LoadJobRunner(makeJob(), { buckets: denied, dispatcher, settings: SETTINGS });
  expect(await failing.run()).toEqual({ state: 'failed', reason: 'listing failed after 1 attempt(s): AccessDenied: permission denied' });

  const missing = new LoadJobRunner(makeJob({ bucket: 'nope' }), { buckets: denied, dispatcher, settings: SETTINGS });
  expect(await missing.run()).toEqual({ state: 'failed', reason: 'NoSuchBucket: The specified bucket does not exist.' });
});

test('a job resumes after its checkpoint without counting a key twice', async () => {
  const entries = objects(100);
  const sizeOf = (i: number) => (entries[i] as { size: number }).size;
  const firstBytes = Array.from({ length: 40 }, (_, i) => sizeOf(i)).reduce((a, b) => a + b, 0);
  const checkpoint: JobCheckpoint = {
    afterKey: keyName(39),
    counters: { filesListed: 40, bytesListed: firstBytes, filesDone: 40, bytesDone: firstBytes, filesLoaded: 40, bytesLoaded: firstBytes, filesSkipped: 0, bytesSkipped: 0, filesFailed: 0, bytesFailed: 0 },
  };
  const { dispatcher, calls } = scripted((_n, items) => items.map(ok));
  const runner = new LoadJobRunner(makeJob({ checkpoint }), { buckets: fakeBuckets(entries), dispatcher, settings: SETTINGS });
  expect(await runner.run()).toEqual({ state: 'completed' });
  const sent = calls.flatMap((c) => c.keys).sort();
  expect(sent[0]).toBe(keyName(40));
  expect(sent).toHaveLength(60);
  const total = entries.reduce((n, e) => n + (e as { size: number }).size, 0);
  expect(runner.progress()).toMatchObject({ filesListed: 100, filesDone: 100, filesLoaded: 100, bytesLoaded: total, bytesDone: total, filesTotal: 100, bytesTotal: total });
  expect(runner.checkpoint()).toEqual({ afterKey: keyName(99), counters: expect.objectContaining({ filesDone: 100, bytesLoaded: total }), retries: 0 });
});

test('a key without an owner (no cluster members) fails the job with the reason', async () => {
  const { dispatcher } = scripted((_n, items) => items.map(ok));
  const noMembers: LoadDispatcher = {
    ...dispatcher,
    ownerOf: (bucket, key) => {
      if (key === keyName(5)) throw new Error('the ring is empty');
      return dispatcher.ownerOf(bucket, key);
    },
  };
  const runner = new LoadJobRunner(makeJob(), { buckets: fakeBuckets(objects(20)), dispatcher: noMembers, settings: SETTINGS });
  expect(await runner.run()).toEqual({ state: 'failed', reason: `no owner for ${keyName(5)}: the ring is empty` });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a resumed job drops the failures and retries recorded past its checkpoint (those keys run again)', async () => {
  const counters = { filesListed: 10, bytesListed: 1000, filesDone: 10, bytesDone: 1000, filesLoaded: 9, bytesLoaded: 900, filesSkipped: 0, bytesSkipped: 0, filesFailed: 1, bytesFailed: 100 };
  const failure = (i: number): KeyFailure => ({ key: keyName(i), error: 'ServiceUnavailable: x', attempts: 4, at: new Date().toISOString() });
  const checkpoint: JobCheckpoint = { afterKey: keyName(9), counters, retries: 3 };
  const { dispatcher } = scripted((_n, items) => items.map(ok));
  const job = makeJob({ checkpoint, maxFailures: { kind: 'count', value: 5 }, progress: { ...counters, retries: 7, recentFailures: [failure(4), failure(15)] } });
  const runner = new LoadJobRunner(job, { buckets: fakeBuckets(objects(20, () => 100)), dispatcher, settings: SETTINGS });
  expect(await runner.run()).toEqual({ state: 'completed' });
  expect(runner.progress()).toMatchObject({ filesDone: 20, filesFailed: 1, retries: 3, recentFailures: [expect.objectContaining({ key: keyName(4) })] });
});

test('one slow key does not stall the job: the checkpoint may lag, the other keys go on', async () => {
  let release: (() => void) | undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const { dispatcher } = scripted(async (_n, items) => {
    if (items.some((t) => t.key === keyName(0))) await held;
    return items.map(ok);
  }, 2);
  const n = 600;
  const runner = new LoadJobRunner(makeJob({ concurrency: 4 }), { buckets: fakeBuckets(objects(n)), dispatcher, settings: { ...SETTINGS, checkpointLag: 50 } });
  const run = runner.run();
  const end = Date.now() + 5000;
  while (runner.progress().filesDone < n - SETTINGS.batchKeys && Date.now() < end) await sleep(5);
  expect(runner.progress().filesDone).toBeGreaterThanOrEqual(n - SETTINGS.batchKeys);
  expect(runner.checkpoint()).toBeUndefined(); // held back by the first key
  expect(runner.tracker.segments).toBeLessThanOrEqual(2 * SETTINGS.batchKeys + 1);
  release?.();
  expect(await run).toEqual({ state: 'completed' });
  expect(runner.checkpoint()?.counters.filesDone).toBe(n);
});
