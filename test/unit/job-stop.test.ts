/**
 * Stopping a load job (cancel, shutdown): no batch is sent after the stop; keys that come
 * back loaded are counted, keys the stop interrupted stay open (never failed); batches that
 * do not answer get a grace period, and their late results are ignored.
 */
import { LoadJobRunner } from '../../src/jobs/load-job';
import type { Job, JobCheckpoint } from '../../src/jobs/job-types';
import type { KeyLoadResult, LoadDispatcher } from '../../src/jobs/load-dispatcher';
import { fakeBuckets, keyName, makeJob as makeRunningJob, objects, ok, SETTINGS } from '../helpers/load-job-fixture';

/** A running job of `concurrency` whose failure threshold the stop tests never reach by failures alone. */
const makeJob = (concurrency = 2): Job => makeRunningJob({ concurrency, maxFailures: { kind: 'count', value: 1000 } });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Like loadLocally: keys one after the other; once aborted, the rest fail as interrupted and the finished ones stay ok. */
function keyByKey(msPerKey: number, failAfterAbort = 'AbortError: aborted'): { dispatcher: LoadDispatcher; warmed: string[] } {
  const warmed: string[] = [];
  const dispatcher: LoadDispatcher = {
    ownerOf: () => 'n0',
    async loadBatch(_node, _bucket, items, _options, signal) {
      const out: KeyLoadResult[] = [];
      for (const t of items) {
        if (signal.aborted) {
          out.push({ key: t.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: failAfterAbort, retryable: true });
          continue;
        }
        await sleep(msPerKey);
        warmed.push(t.key);
        out.push(ok(t));
      }
      return out;
    },
  };
  return { dispatcher, warmed };
}

test('after a cancel, keys that came back loaded are counted; interrupted keys are neither done nor failed', async () => {
  const { dispatcher, warmed } = keyByKey(10);
  const runner = new LoadJobRunner(makeJob(4), { buckets: fakeBuckets(objects(200)), dispatcher, settings: SETTINGS });
  const run = runner.run();
  await sleep(45);
  runner.abort({ kind: 'cancel', reason: 'cancelled by test' });
  expect(await run).toEqual({ state: 'cancelled', reason: 'cancelled by test' });
  expect(warmed.length).toBeGreaterThan(0);
  expect(runner.progress()).toMatchObject({ filesDone: warmed.length, filesLoaded: warmed.length, filesFailed: 0, recentFailures: [] });
});

test('a shutdown records no failure of its own: the checkpoint keeps the loaded keys, interrupted ones stay open for the resume', async () => {
  const { dispatcher, warmed } = keyByKey(10, 'ServiceUnavailable: shutting down');
  const runner = new LoadJobRunner(makeJob(2), { buckets: fakeBuckets(objects(200)), dispatcher, settings: { ...SETTINGS, batchKeys: 4 } });
  const run = runner.run();
  await sleep(60);
  runner.abort({ kind: 'shutdown' });
  expect(await run).toEqual({ state: 'interrupted' });
  expect(runner.progress()).toMatchObject({ filesDone: warmed.length, filesFailed: 0 });
  const checkpoint = runner.checkpoint() as JobCheckpoint;
  expect(checkpoint.counters.filesFailed).toBe(0);
  expect(warmed).toContain(checkpoint.afterKey);
});

test('after a stop, batches that do not answer get a grace period; their late results are ignored', async () => {
  let release: (() => void) | undefined;
  const hung: LoadDispatcher = {
    ownerOf: () => 'n0',
    // Ignores the signal (a stalled store read) until released.
    loadBatch: (_node, _bucket, items) => new Promise((resolve) => (release = () => resolve(items.map(ok)))),
  };
  // concurrency 1: the listing also waits for a slot that never frees.
  const runner = new LoadJobRunner(makeJob(1), { buckets: fakeBuckets(objects(50)), dispatcher: hung, settings: { ...SETTINGS, abortGraceMs: 50 } });
  const run = runner.run();
  await sleep(20);
  const started = Date.now();
  runner.abort({ kind: 'cancel', reason: 'cancelled by test' });
  expect(await run).toEqual({ state: 'cancelled', reason: 'cancelled by test' });
  expect(Date.now() - started).toBeLessThan(1000);
  release?.();
  await sleep(10);
  expect(runner.progress().filesDone).toBe(0);
});

test('cancel stops dispatching and reports cancelled', async () => {
  const calls: string[][] = [];
  const dispatcher: LoadDispatcher = {
    ownerOf: () => 'n0',
    async loadBatch(_node, _bucket, items) {
      calls.push(items.map((i) => i.key));
      await sleep(20);
      return items.map(ok);
    },
  };
  const runner = new LoadJobRunner(makeJob(), { buckets: fakeBuckets(objects(500)), dispatcher, settings: SETTINGS });
  const running = runner.run();
  await new Promise((r) => setTimeout(r, 60));
  runner.abort({ kind: 'cancel', reason: 'cancelled by test' });
  expect(await running).toEqual({ state: 'cancelled', reason: 'cancelled by test' });
  const after = calls.length;
  await new Promise((r) => setTimeout(r, 60));
  expect(calls.length).toBe(after);
  expect(runner.progress().filesDone).toBeLessThan(500);
});


test('a job stopped at the failure threshold still counts the keys loaded meanwhile, and only the real failures', async () => {
  const warmed: string[] = [];
  const dispatcher: LoadDispatcher = {
    ownerOf: () => 'n0',
    async loadBatch(_node, _bucket, items, _options, signal) {
      const out: KeyLoadResult[] = [];
      for (const t of items) {
        if (signal.aborted) out.push({ key: t.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: 'AbortError: aborted', retryable: true });
        else if (t.key === keyName(13)) out.push({ key: t.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: 'NoSuchKey: gone' });
        else {
          await sleep(t.key < keyName(8) ? 1 : 10);
          warmed.push(t.key);
          out.push(ok(t));
        }
      }
      return out;
    },
  };
  const job = makeJob(4);
  job.spec.options.maxFailures = { kind: 'count', value: 0 };
  const runner = new LoadJobRunner(job, { buckets: fakeBuckets(objects(200)), dispatcher, settings: SETTINGS });
  const outcome = await runner.run();
  expect(outcome).toEqual({ state: 'failed', reason: expect.stringMatching(/^1 of \d+ files failed, more than the threshold \(0 files\); last: data\/k013: NoSuchKey: gone$/) });
  expect(warmed.length).toBeGreaterThan(8);
  expect(runner.progress()).toMatchObject({ filesDone: warmed.length + 1, filesLoaded: warmed.length, filesFailed: 1 });
});
