/**
 * The jobs this node coordinates: submit, get, list, cancel; at most `maxRunning` run at
 * once (the others wait "queued"). A running job is persisted on every state change and at
 * most once a second while it progresses, with its checkpoint.
 *
 * At open, jobs left "running" or "queued" by a previous process resume from their
 * checkpoint (`resumeOnRestart`, the default), or are marked failed with the reason. A job
 * of another coordinator is left alone unless it has not been saved for a minute (running
 * jobs are saved at least every 10 s), so two processes that share a state directory by
 * mistake do not take each other's jobs.
 * Finished jobs are forgotten `retainFinishedSeconds` after they end.
 */
import { randomBytes } from 'node:crypto';
import type { RingcacheConfig } from '../config/schema';
import { CachingAdapter } from '../cache/caching-adapter';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { s3Error } from '../s3/errors';
import { JobStore, isExpired } from './job-store';
import { emptyProgress, isFinished, toView, type Job, type JobSpec, type JobView } from './job-types';
import type { LoadDispatcher } from './load-dispatcher';
import { LoadJobRunner, type RunOutcome } from './load-job';

export const RESTART_REASON = 'coordinator restarted while the job was running; resubmit to continue';
export const RESTART_QUEUED_REASON = 'coordinator restarted before the job started; resubmit to run it';

const SAVE_INTERVAL_MS = 1000;
/** Running jobs are saved at least this often, even without progress (a liveness mark). */
const HEARTBEAT_MS = 10_000;
/** An unfinished job of another coordinator not saved for this long is taken over at open. */
const ORPHAN_AFTER_MS = 60_000;
/** How long DELETE waits for a cancelled job to stop before answering. */
const CANCEL_WAIT_MS = 5000;

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface JobManagerOptions {
  config: RingcacheConfig['jobs'];
  buckets: BucketRegistry;
  dispatcher: LoadDispatcher;
  nodeId: string;
  log: Log;
  now?: () => number;
  /** First retry delay of batches and listings (tests shorten it). */
  retryBaseMs?: number;
}

interface Active {
  job: Job;
  runner: LoadJobRunner;
  done: Promise<void>;
  saveTimer?: NodeJS.Timeout;
  lastSaved: number;
}

export class JobManager {
  private readonly active = new Map<string, Active>();
  private readonly queue: Job[] = [];
  private readonly writes = new Set<Promise<void>>();
  private readonly retention: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly now: () => number;
  private closed = false;

  private constructor(
    private readonly store: JobStore,
    private readonly options: JobManagerOptions,
  ) {
    this.now = options.now ?? Date.now;
    const retainMs = options.config.retainFinishedSeconds * 1000;
    this.retention = setInterval(() => void this.purgeExpired(), Math.min(60_000, Math.max(1000, retainMs / 2)));
    this.retention.unref();
    this.heartbeat = setInterval(() => {
      for (const active of this.active.values()) {
        this.capture(active);
        void this.save(active.job);
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  static async open(options: JobManagerOptions): Promise<JobManager> {
    const manager = new JobManager(JobStore.open(options.config.stateDir), options);
    await manager.recover();
    return manager;
  }

  async submit(spec: JobSpec, submittedBy: string): Promise<JobView> {
    if (this.closed) throw new Error('the job manager is closed');
    // NoSuchBucket (and a gateway without a cache) before anything is recorded.
    const bucket = await this.options.buckets.get(spec.bucket);
    if (!(bucket.adapter instanceof CachingAdapter)) throw s3Error('InvalidRequest', 'This gateway runs without a cache (cache.enabled is false): there is nothing to load into.');
    const at = new Date(this.now()).toISOString();
    const job: Job = {
      id: newJobId(this.now()),
      spec,
      state: 'queued',
      coordinator: this.options.nodeId,
      submittedBy,
      createdAt: at,
      updatedAt: at,
      resumes: 0,
      progress: emptyProgress(),
    };
    await this.save(job);
    this.queue.push(job);
    this.pump();
    return this.view(job);
  }

  get(id: string): JobView | undefined {
    const job = this.active.get(id)?.job ?? this.store.get(id);
    return job && !this.expired(job) ? this.view(job) : undefined;
  }

  /** Newest first. */
  list(): JobView[] {
    return this.store
      .list()
      .map((stored) => this.active.get(stored.id)?.job ?? stored)
      .filter((job) => !this.expired(job))
      .map((job) => this.view(job));
  }

  /** Cancels a queued or running job and waits (a few seconds at most) until it has stopped. Finished jobs are returned as they are. */
  async cancel(id: string, by: string): Promise<JobView | undefined> {
    const reason = `cancelled by ${by}`;
    const queued = this.queue.findIndex((job) => job.id === id);
    if (queued !== -1) {
      const [job] = this.queue.splice(queued, 1);
      this.end(job, 'cancelled', reason);
      await this.save(job);
      return this.view(job);
    }
    const active = this.active.get(id);
    if (active) {
      active.runner.abort({ kind: 'cancel', reason });
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([active.done, new Promise((resolve) => (timer = setTimeout(resolve, CANCEL_WAIT_MS)))]);
      clearTimeout(timer);
      return this.view(active.job);
    }
    return this.get(id);
  }

  /** Forgets finished jobs past their retention. */
  async purgeExpired(): Promise<number> {
    try {
      return await this.store.purgeExpired(this.options.config.retainFinishedSeconds * 1000, this.now());
    } catch (err) {
      this.options.log.warn({ err }, 'could not purge finished jobs');
      return 0;
    }
  }

  /** Stops running jobs (they stay "running" in the store with their checkpoint, to resume at the next open) and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.retention);
    clearInterval(this.heartbeat);
    this.queue.length = 0;
    for (const active of this.active.values()) active.runner.abort({ kind: 'shutdown' });
    await Promise.all([...this.active.values()].map((a) => a.done));
    await Promise.all(this.writes);
    await this.store.close();
  }

  private async recover(): Promise<void> {
    await this.purgeExpired();
    const left = this.store.list().filter((job) => !isFinished(job.state)).reverse(); // oldest first
    for (const job of left) {
      // Another live coordinator's job (a state directory shared by mistake): not ours to touch.
      if (job.coordinator !== this.options.nodeId && this.now() - Date.parse(job.updatedAt) < ORPHAN_AFTER_MS) continue;
      const wasRunning = job.state === 'running';
      if (!this.options.config.resumeOnRestart) {
        job.progress.etaSeconds = null;
        this.end(job, 'failed', wasRunning ? RESTART_REASON : RESTART_QUEUED_REASON);
        await this.save(job);
        continue;
      }
      if (wasRunning) {
        job.resumes++;
        job.resumedAt = new Date(this.now()).toISOString();
      }
      job.coordinator = this.options.nodeId;
      job.state = 'queued';
      await this.save(job);
      this.queue.push(job);
      this.options.log.info({ op: 'LoadJob', job: job.id, bucket: job.spec.bucket, resumeAfter: job.checkpoint?.afterKey }, 'load job resumed after a restart');
    }
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.active.size < this.options.config.maxRunning && this.queue.length > 0) {
      this.start(this.queue.shift() as Job);
    }
  }

  private start(job: Job): void {
    job.state = 'running';
    job.startedAt ??= new Date(this.now()).toISOString();
    const runner = new LoadJobRunner(job, {
      buckets: this.options.buckets,
      dispatcher: this.options.dispatcher,
      settings: { ...this.options.config, retryBaseMs: this.options.retryBaseMs },
      onProgress: () => this.scheduleSave(job.id),
      now: this.now,
      log: this.options.log,
    });
    const active: Active = { job, runner, done: Promise.resolve(), lastSaved: this.now() };
    this.active.set(job.id, active);
    this.capture(active);
    void this.save(job);
    active.done = runner.run().then(
      (outcome) => this.finish(active, outcome),
      (err: unknown) => this.finish(active, { state: 'failed', reason: `InternalError: ${(err as Error).message}` }),
    );
  }

  private async finish(active: Active, outcome: RunOutcome): Promise<void> {
    const { job, runner } = active;
    clearTimeout(active.saveTimer);
    this.active.delete(job.id);
    if (outcome.state === 'interrupted') {
      this.capture(active);
    } else {
      this.end(job, outcome.state, outcome.state === 'completed' ? undefined : outcome.reason);
      job.progress = runner.progress(Date.parse(job.finishedAt as string));
      if (outcome.state !== 'completed') job.progress.etaSeconds = null;
      job.checkpoint = undefined;
      this.options.log.info({ op: 'LoadJob', job: job.id, bucket: job.spec.bucket, state: job.state, reason: job.reason }, 'load job finished');
    }
    await this.save(job);
    this.pump();
  }

  private end(job: Job, state: 'completed' | 'failed' | 'cancelled', reason: string | undefined): void {
    job.state = state;
    job.reason = reason;
    job.finishedAt = new Date(this.now()).toISOString();
  }

  /** Copies a running job's live progress and checkpoint into its record. */
  private capture(active: Active): void {
    active.job.progress = active.runner.progress();
    active.job.checkpoint = active.runner.checkpoint();
  }

  private scheduleSave(id: string): void {
    const active = this.active.get(id);
    if (!active || active.saveTimer) return;
    const delay = Math.max(0, SAVE_INTERVAL_MS - (this.now() - active.lastSaved));
    active.saveTimer = setTimeout(() => {
      active.saveTimer = undefined;
      if (this.active.get(id) !== active) return;
      active.lastSaved = this.now();
      this.capture(active);
      void this.save(active.job);
    }, delay);
    active.saveTimer.unref();
  }

  private save(job: Job): Promise<void> {
    job.updatedAt = new Date(this.now()).toISOString();
    const write = this.store.save(job).catch((err: unknown) => this.options.log.warn({ err, job: job.id }, 'could not persist job state'));
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
    return write;
  }

  private view(job: Job): JobView {
    const active = this.active.get(job.id);
    return active ? { ...toView(job), progress: active.runner.progress() } : toView(job);
  }

  private expired(job: Job): boolean {
    return isExpired(job, this.options.config.retainFinishedSeconds * 1000, this.now());
  }
}

/** Sortable by creation time: "j" + base-36 milliseconds + 6 random hex digits. */
function newJobId(now: number): string {
  return `j${now.toString(36).padStart(9, '0')}${randomBytes(3).toString('hex')}`;
}
