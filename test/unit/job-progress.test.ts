/**
 * Job bookkeeping: the checkpoint only covers keys finished without a gap, skipped vs loaded,
 * recent failures are capped while the count stays exact, thresholds, and the ETA.
 */
import { ProgressTracker } from '../../src/jobs/progress-tracker';

test('the checkpoint advances only over keys finished without a gap, with their exact counters', () => {
  const t = new ProgressTracker({}, 10);
  const a = t.listed('a', 10);
  const b = t.listed('b', 20);
  const c = t.listed('c', 30);
  t.finish(b, { kind: 'done', bytesLoaded: 20, bytesSkipped: 0 });
  t.finish(c, { kind: 'failed', error: 'NoSuchKey: gone', attempts: 1 });
  expect(t.checkpoint()).toBeUndefined();
  expect(t.unsettled).toBe(3);
  t.finish(a, { kind: 'done', bytesLoaded: 0, bytesSkipped: 10 });
  expect(t.unsettled).toBe(0);
  expect(t.checkpoint()).toEqual({
    afterKey: 'c',
    counters: { filesListed: 3, bytesListed: 60, filesDone: 3, bytesDone: 60, filesLoaded: 1, bytesLoaded: 20, filesSkipped: 1, bytesSkipped: 10, filesFailed: 1, bytesFailed: 30 },
    retries: 0,
  });
  const d = t.listed('d', 5);
  expect(t.counters.filesListed).toBe(4);
  expect(t.checkpoint()?.counters.filesListed).toBe(3);
  expect(() => t.finish(c, { kind: 'done', bytesLoaded: 0, bytesSkipped: 0 })).toThrow(/twice/);
  t.finish(d, { kind: 'done', bytesLoaded: 0, bytesSkipped: 0 });
  // An empty object has nothing to skip: loaded (its metadata was cached).
  expect(t.counters).toMatchObject({ filesLoaded: 2, filesSkipped: 1 });
});

test('a long run keeps the queue compact and the checkpoint exact', () => {
  const t = new ProgressTracker({}, 3);
  const tickets = Array.from({ length: 5000 }, (_, i) => t.listed(`k${String(i).padStart(5, '0')}`, 1));
  // finish in reverse pairs
  for (let i = 0; i < tickets.length; i += 2) {
    t.finish(tickets[i + 1], { kind: 'done', bytesLoaded: 1, bytesSkipped: 0 });
    t.finish(tickets[i], { kind: i % 1000 === 0 ? 'failed' : 'done', bytesLoaded: 1, bytesSkipped: 0, error: 'x', attempts: 2 } as never);
  }
  expect(t.unsettled).toBe(0);
  expect(t.checkpoint()?.afterKey).toBe('k04999');
  expect(t.counters.filesFailed).toBe(5);
  expect(t.recentFailures.map((f) => f.key)).toEqual(['k02000', 'k03000', 'k04000']);
});

test('thresholds: a count at once; a share after 100 files, or at the end', () => {
  const t = new ProgressTracker({}, 10);
  for (let i = 0; i < 10; i++) t.finish(t.listed(`k${i}`, 1), { kind: i < 2 ? 'failed' : 'done', bytesLoaded: 1, bytesSkipped: 0, error: 'e', attempts: 1 } as never);
  expect(t.failuresExceed({ kind: 'count', value: 1 }, false)).toBe(true);
  expect(t.failuresExceed({ kind: 'count', value: 2 }, false)).toBe(false);
  expect(t.failuresExceed({ kind: 'fraction', value: 0.1 }, false)).toBe(false); // 20%, but only 10 files done
  expect(t.failuresExceed({ kind: 'fraction', value: 0.1 }, true)).toBe(true);
  expect(t.failuresExceed({ kind: 'fraction', value: 0.2 }, true)).toBe(false);
});

test('the ETA comes from the recent rate and what is left; unknown until there is a total', () => {
  let now = 1_000_000;
  const t = new ProgressTracker({}, 10, () => now);
  const tickets = Array.from({ length: 10 }, (_, i) => t.listed(`k${i}`, 100));
  expect(t.snapshot(now, false).etaSeconds).toBeNull();
  t.filesTotal = 10;
  t.bytesTotal = 1000;
  t.snapshot(now, false);
  now += 2000;
  for (let i = 0; i < 2; i++) t.finish(tickets[i], { kind: 'done', bytesLoaded: 100, bytesSkipped: 0 });
  const p = t.snapshot(1_000_000, false);
  // 200 bytes in 2 s, 800 left
  expect(p.etaSeconds).toBe(8);
  expect(p.throughputBytesPerSecond).toBe(100);
  expect(p.elapsedSeconds).toBe(2);
  expect(t.snapshot(1_000_000, false, now).etaSeconds).toBe(0);
});

test('a stuck first key: memory follows the unfinished keys, not how far the checkpoint lags', () => {
  const t = new ProgressTracker({}, 3);
  const first = t.listed('a0', 1);
  for (let i = 1; i < 10_000; i++) {
    const ticket = t.listed(`a${String(i).padStart(5, '0')}`, 1);
    if (i % 7 !== 0) t.finish(ticket, { kind: 'done', bytesLoaded: 1, bytesSkipped: 0 });
    else t.finish(ticket, { kind: 'done', bytesLoaded: 0, bytesSkipped: 1 });
  }
  expect(t.unsettled).toBe(10_000);
  expect(t.segments).toBe(2); // the open first key, and one run of the 9,999 after it
  expect(t.checkpoint()).toBeUndefined();
  t.finish(first, { kind: 'failed', error: 'e', attempts: 1 });
  expect(t.segments).toBe(0);
  expect(t.checkpoint()).toMatchObject({ afterKey: 'a09999', counters: { filesDone: 10_000, filesFailed: 1, filesSkipped: 1428, filesLoaded: 8571 } });
});
