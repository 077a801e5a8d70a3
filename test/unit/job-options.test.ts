/**
 * Job submissions and their human forms: byte rates, failure thresholds, validation
 * messages; the bandwidth token bucket; the CLI's renderings.
 */
import { ByteRateLimiter } from '../../src/jobs/byte-rate-limiter';
import { formatBytes, formatDuration, jobsTable, progressLine } from '../../src/jobs/job-format';
import { DEFAULT_MAX_FAILURES, JobOptionsError, parseByteRate, parseFailureThreshold, parseSubmission } from '../../src/jobs/job-options';
import { emptyProgress, type JobView } from '../../src/jobs/job-types';
import { buildSubmission, parseTarget } from '../../src/cli/load';

test.each([
  ['100MiB/s', 100 * 1024 ** 2],
  ['50MB/s', 50e6],
  ['800K', 800 * 1024],
  ['1.5 GiB / s', 1.5 * 1024 ** 3],
  ['1048576', 1048576],
  ['0', 0],
])('parseByteRate(%s)', (text, bytes) => expect(parseByteRate(text)).toBe(bytes));

test.each(['fast', '10 parsecs', '-1MiB/s', ''])('parseByteRate refuses %p', (text) => expect(() => parseByteRate(text)).toThrow(/expected a rate/));

test('a rate that would round to 0 B/s (unlimited) is refused; an explicit zero is unlimited', () => {
  expect(() => parseByteRate('0.4')).toThrow(/less than 1 byte per second \(0 means unlimited\)/);
  expect(() => parseByteRate('0.0001K')).toThrow(/less than 1 byte per second/);
  expect(parseByteRate('0MiB/s')).toBe(0);
  expect(parseByteRate('1.4')).toBe(1);
  const bad = () => parseSubmission({ bucket: 'b', options: { bandwidth: '0.2B/s' } }, { concurrency: 4 });
  expect(bad).toThrow(JobOptionsError);
  expect(bad).toThrow(/options\.bandwidth: bandwidth "0\.2B\/s": less than 1 byte per second/);
});

test('failure thresholds: a count or a percentage', () => {
  expect(parseFailureThreshold(10)).toEqual({ kind: 'count', value: 10 });
  expect(parseFailureThreshold('0')).toEqual({ kind: 'count', value: 0 });
  expect(parseFailureThreshold('5%')).toEqual({ kind: 'fraction', value: 0.05 });
  expect(() => parseFailureThreshold('150%')).toThrow(/at most 100%/);
  expect(() => parseFailureThreshold('a few')).toThrow(/expected a number of files/);
});

test('a submission gets defaults, and every problem is named', () => {
  expect(parseSubmission({ bucket: 'b' }, { concurrency: 4 })).toEqual({
    bucket: 'b',
    prefix: '',
    options: { skipCached: true, metadataOnly: false, concurrency: 4, bandwidthBytesPerSecond: 0, maxFailures: DEFAULT_MAX_FAILURES },
  });
  expect(parseSubmission({ bucket: 'b', prefix: 'p/', options: { bandwidth: '1MiB/s', maxFailures: '1%', concurrency: 9, skipCached: false } }, { concurrency: 4 }).options).toEqual({
    skipCached: false,
    metadataOnly: false,
    concurrency: 9,
    bandwidthBytesPerSecond: 1024 ** 2,
    maxFailures: { kind: 'fraction', value: 0.01 },
  });
  const bad = () => parseSubmission({ bucket: 'b', options: { concurrency: 0, bandwidth: 'fast', colour: 'red' } }, { concurrency: 4 });
  expect(bad).toThrow(JobOptionsError);
  expect(bad).toThrow(/options\.concurrency: .*; options\.bandwidth: bandwidth "fast".*; options: Unrecognized key\(s\) in object: 'colour'/);
  expect(() => parseSubmission([], { concurrency: 4 })).toThrow(/body: Expected object/);
});

test('the bandwidth limiter holds the average rate, lets a large take go into debt, and takes refunds', async () => {
  const limiter = new ByteRateLimiter(1_000_000); // 1 MB/s, starts with one second's worth
  const signal = new AbortController().signal;
  const started = performance.now();
  for (let i = 0; i < 13; i++) await limiter.take(100_000, signal); // 1.3 MB: 0.3 MB past the bucket
  const elapsed = performance.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(280);
  expect(elapsed).toBeLessThan(1000);
  limiter.refund(5_000_000); // capped at the bucket size
  const again = performance.now();
  await limiter.take(900_000, signal);
  expect(performance.now() - again).toBeLessThan(100);
  // Deep in debt (about 5 s): a waiter gives up on abort, and does not block the ones after it.
  limiter.refund(1_000_000);
  await limiter.take(5_000_000, signal);
  const aborted = new AbortController();
  const waiting = limiter.take(1, aborted.signal);
  setTimeout(() => aborted.abort(), 20);
  await expect(waiting).rejects.toThrow(/abort/i);
  limiter.refund(10_000_000);
  const next = performance.now();
  await limiter.take(1, signal);
  expect(performance.now() - next).toBeLessThan(100);
  expect(new ByteRateLimiter(0).unlimited).toBe(true);
});

test('CLI targets and flags', () => {
  expect(parseTarget('photos/2024/')).toEqual({ bucket: 'photos', prefix: '2024/' });
  expect(parseTarget('s3://photos')).toEqual({ bucket: 'photos', prefix: '' });
  expect(() => parseTarget('/x')).toThrow(/BUCKET\/PREFIX/);
  const base = { endpoint: 'http://x', credentials: { accessKeyId: 'a', secretAccessKey: 'b', region: 'r' }, metadataOnly: false, skipCached: true, json: false, detach: false };
  expect(buildSubmission('b/p', { ...base, concurrency: '3', bandwidth: '2MiB/s', maxFailures: '5%' })).toEqual({
    bucket: 'b',
    prefix: 'p',
    options: { skipCached: true, metadataOnly: false, concurrency: 3, bandwidth: 2 * 1024 ** 2, maxFailures: '5%' },
  });
  expect(() => buildSubmission('b/p', { ...base, concurrency: 'lots' })).toThrow(/--concurrency/);
  expect(() => buildSubmission('b/p', { ...base, maxFailures: 'some' })).toThrow(/maxFailures/);
});

test('renderings', () => {
  expect(formatBytes(0)).toBe('0 B');
  expect(formatBytes(1536)).toBe('1.50 KiB');
  expect(formatBytes(300 * 1024 ** 2)).toBe('300 MiB');
  expect(formatDuration(75)).toBe('1:15');
  expect(formatDuration(3725)).toBe('1:02:05');
  const job: JobView = {
    id: 'j1',
    spec: { bucket: 'b', prefix: 'p/', options: { skipCached: true, metadataOnly: false, concurrency: 4, bandwidthBytesPerSecond: 0, maxFailures: DEFAULT_MAX_FAILURES } },
    state: 'running',
    coordinator: 'n',
    submittedBy: 'a',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    resumes: 0,
    progress: { ...emptyProgress(), filesListed: 10, bytesListed: 4 * 1024 ** 2, filesDone: 5, bytesDone: 1024 ** 2, filesSkipped: 1, filesTotal: 20, bytesTotal: 4 * 1024 ** 2, throughputBytesPerSecond: 1024 ** 2, etaSeconds: 3 },
  };
  expect(progressLine(job, { bar: true, barWidth: 8 })).toBe('[##------]   25%  1.00 MiB / 4.00 MiB  files 5/20 (1 skipped, 0 failed)  1.00 MiB/s  ETA 0:03');
  expect(progressLine({ ...job, progress: { ...job.progress, filesTotal: null, bytesTotal: null, etaSeconds: null } })).toBe('j1 running    ?%  1.00 MiB / 4.00 MiB+  files 5/10+ (1 skipped, 0 failed)  1.00 MiB/s  ETA --');
  expect(jobsTable([job]).split('\n')).toEqual([
    'ID  STATE    TARGET  DONE  FILES  LOADED  FAILED  ELAPSED  CREATED',
    'j1  running  b/p/    25%   5/20   0 B     0       0:00     2026-01-01 00:00:00Z',
  ]);
});
