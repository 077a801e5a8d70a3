/**
 * `ringcache load BUCKET/PREFIX`: submits a load job to a running gateway, prints its id, then
 * follows it (a poll about twice a second) until it finishes.
 *
 * Output: first "job <id> started ..." (on stderr with --json, so stdout stays one JSON
 * document), then on a terminal, one progress line redrawn in place; otherwise a plain line at most
 * once a second; then a summary. `--json` prints only the final job as JSON; `--detach` prints
 * the job id (the job as JSON with --json) and returns at once.
 *
 * Ctrl-C: on a terminal, asks "cancel job <id>? [y/N]" (y cancels, anything else keeps
 * following; a second Ctrl-C at the question cancels). Without a terminal on stdin, Ctrl-C
 * cancels at once. Either way the command then waits for the job to report "cancelled"; one
 * more Ctrl-C leaves without waiting. A job that ends while the question is shown closes it.
 * Exit status: 0 completed, 1 failed or cancelled, 2 usage.
 */
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { progressLine, summary } from '../jobs/job-format';
import { MAX_CONCURRENCY, parseByteRate, parseFailureThreshold, type SubmitInput } from '../jobs/job-options';
import { isFinished, type JobView } from '../jobs/job-types';
import { AdminRequestError } from './admin-client';
import type { ClientCredentials } from './client-settings';
import { JobsClient } from './jobs-client';
import { UsageError } from './usage';

export interface LoadCommandOptions {
  endpoint: string;
  credentials: ClientCredentials;
  concurrency?: string;
  bandwidth?: string;
  metadataOnly: boolean;
  skipCached: boolean;
  maxFailures?: string;
  json: boolean;
  detach: boolean;
  /** Poll interval (default 500 ms). */
  pollMs?: number;
  io?: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; stdin: NodeJS.ReadStream };
  /** The API client (default: a JobsClient of `endpoint`; tests pass a fake). */
  client?: Pick<JobsClient, 'submit' | 'get' | 'cancel'>;
}

/** "bucket/some/prefix" (or "s3://bucket/some/prefix") -> bucket and prefix. */
export function parseTarget(target: string): { bucket: string; prefix: string } {
  const bare = target.replace(/^s3:\/\//, '');
  const slash = bare.indexOf('/');
  const bucket = slash === -1 ? bare : bare.slice(0, slash);
  if (bucket === '') throw new UsageError(`give BUCKET/PREFIX, got "${target}"`);
  return { bucket, prefix: slash === -1 ? '' : bare.slice(slash + 1) };
}

/** The submission the flags describe; UsageError on a bad flag. */
export function buildSubmission(target: string, options: LoadCommandOptions): SubmitInput {
  const { bucket, prefix } = parseTarget(target);
  const submitted: SubmitInput['options'] = { skipCached: options.skipCached, metadataOnly: options.metadataOnly };
  try {
    if (options.concurrency !== undefined) {
      const n = Number(options.concurrency);
      if (!Number.isInteger(n) || n < 1 || n > MAX_CONCURRENCY) throw new Error(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
      submitted.concurrency = n;
    }
    if (options.bandwidth !== undefined) submitted.bandwidth = parseByteRate(options.bandwidth);
    if (options.maxFailures !== undefined) {
      parseFailureThreshold(options.maxFailures);
      submitted.maxFailures = options.maxFailures;
    }
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { bucket, prefix, options: submitted };
}

export async function loadCommand(target: string, options: LoadCommandOptions): Promise<number> {
  const io = options.io ?? { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin };
  const submission = buildSubmission(target, options);
  const client = options.client ?? new JobsClient(options.endpoint, options.credentials);
  let job = await client.submit(submission);
  if (options.detach) {
    io.stdout.write(options.json ? `${JSON.stringify(job, null, 2)}\n` : `${job.id}\n`);
    return 0;
  }
  const started = `job ${job.id} started: ${submission.bucket}/${submission.prefix} (ringcache jobs show ${job.id}; Ctrl-C to cancel)\n`;
  (options.json ? io.stderr : io.stdout).write(started);
  const view = new ProgressView(io.stdout, options.json);
  const interrupt = new Interrupt(job.id, client, io, view);
  interrupt.install();
  try {
    job = await follow(client, job, options.pollMs ?? 500, (current) => {
      if (!interrupt.prompting) view.show(current);
    }, interrupt.signal);
  } finally {
    interrupt.uninstall();
  }
  view.end();
  if (options.json) io.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
  else io.stdout.write(`${summary(job)}\n`);
  return job.state === 'completed' ? 0 : 1;
}

/** Polls until the job is finished; tolerates the gateway being away for up to 30 s (a restart). */
async function follow(client: Pick<JobsClient, 'get'>, first: JobView, pollMs: number, onUpdate: (job: JobView) => void, leave: AbortSignal): Promise<JobView> {
  let job = first;
  let failingSince: number | undefined;
  onUpdate(job);
  while (!isFinished(job.state)) {
    await sleep(pollMs, undefined, { signal: leave }).catch(() => undefined);
    if (leave.aborted) return client.get(job.id).catch(() => job);
    try {
      job = await client.get(job.id);
      failingSince = undefined;
    } catch (err) {
      if (err instanceof AdminRequestError && err.status !== 0 && err.status < 500) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > 30_000) throw err;
      continue;
    }
    onUpdate(job);
  }
  return job;
}

/** The live line on a terminal, a plain line at most once a second otherwise, nothing with --json. */
class ProgressView {
  private readonly tty: boolean;
  private lastLine = 0;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly quiet: boolean,
  ) {
    this.tty = out.isTTY === true;
  }

  show(job: JobView): void {
    if (this.quiet) return;
    if (this.tty) {
      const line = progressLine(job, { bar: true });
      const columns = this.out.columns || 120;
      this.out.write(`\r${line.slice(0, columns - 1)}\x1b[K`);
      this.drawn = true;
    } else if (Date.now() - this.lastLine >= 1000 || isFinished(job.state)) {
      this.out.write(`${progressLine(job)}\n`);
      this.lastLine = Date.now();
    }
  }

  /** Leaves the line the bar was drawn on. */
  end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

/** What Ctrl-C does while a job is followed (see the file comment). */
class Interrupt {
  prompting = false;
  private prompt: readline.Interface | undefined;
  private cancelling = false;
  private readonly leave = new AbortController();
  private readonly handler = (): void => this.onSigint();

  constructor(
    private readonly id: string,
    private readonly client: Pick<JobsClient, 'cancel'>,
    private readonly io: NonNullable<LoadCommandOptions['io']>,
    private readonly view: ProgressView,
  ) {}

  /** Aborted when the user insists on leaving without waiting. */
  get signal(): AbortSignal {
    return this.leave.signal;
  }

  install(): void {
    process.on('SIGINT', this.handler);
  }

  /** Stops listening; a question still shown is closed unanswered (the job ended meanwhile), so that stdin lets the process exit. */
  uninstall(): void {
    process.off('SIGINT', this.handler);
    if (this.prompt) {
      this.prompt.close();
      this.prompt = undefined;
      this.prompting = false;
      this.io.stderr.write('\n');
    }
  }

  private onSigint(): void {
    if (this.cancelling) {
      this.io.stderr.write(`\nno longer waiting; job ${this.id} was asked to cancel\n`);
      this.leave.abort();
      return;
    }
    if (this.io.stdin.isTTY !== true) {
      this.cancel();
      return;
    }
    if (this.prompting) return;
    this.prompting = true;
    this.view.end();
    const rl = readline.createInterface({ input: this.io.stdin, output: this.io.stderr });
    this.prompt = rl;
    const done = (cancel: boolean): void => {
      if (this.prompt !== rl) return;
      this.prompt = undefined;
      rl.close();
      this.prompting = false;
      if (cancel) this.cancel();
    };
    // A second Ctrl-C at the question cancels.
    rl.once('SIGINT', () => {
      this.io.stderr.write('\n');
      done(true);
    });
    rl.question(`cancel job ${this.id}? [y/N] `, (answer) => done(/^y(es)?$/i.test(answer.trim())));
  }

  private cancel(): void {
    this.cancelling = true;
    this.io.stderr.write(`\ncancelling job ${this.id}...\n`);
    this.client.cancel(this.id).catch((err: unknown) => this.io.stderr.write(`could not cancel job ${this.id}: ${(err as Error).message}\n`));
  }
}
