/**
 * A job this node runs: its runner, and its record kept in step with the run under this
 * process's lease (job-leases.ts). The record is saved before the run starts (the run begins
 * only once it is, and only if the job was not lost meanwhile), at most once a second while the
 * job progresses (with its checkpoint), and when the run ends. A job another process took over
 * saves nothing more.
 */
import type { JobLeases } from './job-leases';
import { endJob, type Job } from './job-types';
import type { LoadJobRunner, RunOutcome } from './load-job';

const SAVE_INTERVAL_MS = 1000;

export class ActiveJob {
  /** Settles once the run has ended and its final record is saved. */
  done: Promise<void> = Promise.resolve();
  /** The run has ended; the final record is being saved. */
  finishing = false;
  /** Another process took the job over: nothing more is saved. */
  lost = false;
  private saveTimer: NodeJS.Timeout | undefined;
  private lastSaved: number;

  constructor(
    readonly job: Job,
    readonly runner: LoadJobRunner,
    private readonly leases: JobLeases,
    private readonly now: () => number,
    private readonly log: { info(obj: object, msg: string): void },
  ) {
    this.lastSaved = now();
  }

  /**
   * Saves the record, runs the job, then records how the run ended. Resolves true once the final
   * record is saved here; false when close() gave up waiting and saved the job already.
   */
  run(): Promise<boolean> {
    // Runs only once the record says so under our lease (a job claimed elsewhere meanwhile is lost, not run).
    const run = (saved: boolean): Promise<RunOutcome> => (saved && !this.lost ? this.runner.run() : Promise.resolve({ state: 'interrupted' }));
    return this.leases.save(this.job).then(run).then(
      (outcome) => this.finish(outcome),
      (err: unknown) => this.finish({ state: 'failed', reason: `InternalError: ${(err as Error).message}` }),
    );
  }

  /** Copies the live progress and checkpoint into the record. */
  capture(): void {
    this.job.progress = this.runner.progress();
    this.job.checkpoint = this.runner.checkpoint();
  }

  /** Saves the progress and checkpoint (renewing the lease). */
  saveProgress(): void {
    if (this.finishing || this.lost) return;
    this.lastSaved = this.now();
    this.capture();
    void this.leases.save(this.job);
  }

  /** The job progressed: saves it within a second of the last save. */
  scheduleSave(): void {
    if (this.saveTimer || this.finishing) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saveProgress();
    }, Math.max(0, SAVE_INTERVAL_MS - (this.now() - this.lastSaved)));
    this.saveTimer.unref();
  }

  /** A runner that did not stop in time at close: keeps what it has, saved "running" with its lease released. */
  saveUnfinished(): void {
    if (this.finishing || this.lost) return;
    this.finishing = true;
    this.capture();
    void this.leases.save(this.job, { release: true });
  }

  /** Another process took the job over: stops the run. */
  lose(): void {
    if (this.lost) return;
    this.lost = true;
    this.runner.abort({ kind: 'shutdown' });
  }

  private async finish(outcome: RunOutcome): Promise<boolean> {
    const { job, runner } = this;
    if (this.finishing) return false; // close() gave up waiting and saved it already
    this.finishing = true;
    clearTimeout(this.saveTimer);
    if (outcome.state === 'interrupted') {
      this.capture();
    } else {
      endJob(job, outcome.state, outcome.state === 'completed' ? undefined : outcome.reason, this.now());
      job.progress = runner.progress(Date.parse(job.finishedAt as string));
      if (outcome.state !== 'completed') job.progress.etaSeconds = null;
      job.checkpoint = undefined;
      this.log.info({ op: 'LoadJob', job: job.id, bucket: job.spec.bucket, state: job.state, reason: job.reason }, 'load job finished');
    }
    if (!this.lost) await this.leases.save(job, { release: outcome.state === 'interrupted' });
    return true;
  }
}
