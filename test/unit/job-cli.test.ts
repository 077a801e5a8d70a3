/**
 * `ringcache load` following a job, with a fake API client and fake terminal streams: a job
 * that ends while the Ctrl-C question is shown closes the question (stdin is let go, so the
 * process can exit), and a declined question goes on following the job.
 */
import { PassThrough } from 'node:stream';
import { loadCommand, type LoadCommandOptions } from '../../src/cli/load';
import { DEFAULT_MAX_FAILURES } from '../../src/jobs/job-options';
import { emptyProgress, type JobState, type JobView } from '../../src/jobs/job-types';

const job = (state: JobState): JobView => ({
  id: 'j1',
  spec: { bucket: 'b', prefix: 'p/', options: { skipCached: true, metadataOnly: false, concurrency: 4, bandwidthBytesPerSecond: 0, maxFailures: DEFAULT_MAX_FAILURES } },
  state,
  coordinator: 'n0',
  submittedBy: 'a',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  resumes: 0,
  progress: emptyProgress(),
});

function terminal(): { io: NonNullable<LoadCommandOptions['io']>; stdin: PassThrough; stderr: () => string } {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let text = '';
  stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  stdout.resume();
  return { io: { stdin, stdout, stderr } as unknown as NonNullable<LoadCommandOptions['io']>, stdin, stderr: () => text };
}

const base = { endpoint: 'http://unused', credentials: { accessKeyId: 'a', secretAccessKey: 'b', region: 'r' }, metadataOnly: false, skipCached: true, json: false, detach: false, pollMs: 5 };

/** Presses Ctrl-C: only the command's own handler listens in a test worker. */
function ctrlC(): void {
  expect(process.listenerCount('SIGINT')).toBe(1);
  process.emit('SIGINT', 'SIGINT');
}

test('a job that ends while "cancel job …? [y/N]" is shown closes the question, and stdin is let go', async () => {
  const { io, stdin, stderr } = terminal();
  let polls = 0;
  const client = {
    submit: async () => job('running'),
    get: async () => {
      polls++;
      if (polls === 1) ctrlC();
      return job(polls >= 4 ? 'completed' : 'running');
    },
    cancel: async (): Promise<JobView> => {
      throw new Error('not asked to cancel');
    },
  };
  expect(await loadCommand('b/p/', { ...base, io, client })).toBe(0);
  expect(stderr()).toContain('cancel job j1? [y/N] ');
  expect(stdin.listenerCount('data') + stdin.listenerCount('keypress')).toBe(0);
  expect(stdin.isPaused()).toBe(true);
  expect(process.listenerCount('SIGINT')).toBe(0);
});

test('"n" at the question goes on following the job; "y" cancels it', async () => {
  for (const answer of ['n', 'y']) {
    const { io, stdin } = terminal();
    let polls = 0;
    let cancelled = false;
    const client = {
      submit: async () => job('running'),
      get: async () => {
        polls++;
        if (polls === 1) {
          ctrlC();
          setTimeout(() => stdin.write(`${answer}\n`), 5);
        }
        return job(cancelled ? 'cancelled' : polls >= 10 ? 'completed' : 'running');
      },
      cancel: async () => {
        cancelled = true;
        return job('running');
      },
    };
    expect(await loadCommand('b/p/', { ...base, io, client })).toBe(answer === 'y' ? 1 : 0);
    expect(cancelled).toBe(answer === 'y');
  }
});
