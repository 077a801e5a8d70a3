/**
 * The jobs this node coordinates: submit, get, list, cancel; at most `maxRunning` run at
 * once (the others wait "queued"), and at most `maxQueuedPerKey` queued or running per access
 * key. A running job is persisted on every state change and at most once a second while it
 * progresses, with its checkpoint; a final state is saved durably before the job leaves
 * memory.
 *
 * Every job held here (queued or running) is under this process's lease (job-leases.ts),
 * renewed every 10 s; a graceful close releases the leases with the checkpoints. A sweep (at
 * open, then at least every 30 s) takes over unfinished jobs whose lease was released or not
 * renewed for a minute: they resume from their checkpoint (`resumeOnRestart`, the default), or
 * are marked failed with the reason. A job whose lease another process took is stopped here.
 *
 * Finished jobs are forgotten `retainFinishedSeconds` (at least a minute) after they end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RingcacheConfig } from '../config/schema';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { s3Error } from '../s3/errors';
import { JobLeases, takeOver } from './job-leases';
import { JobStore, isExpired } from './job-store';
import { newJob, toView, type Job, type JobCounters, type JobSpec, type JobView } from './job-types';
import type { LoadDispatcher } from './load-dispatcher';
import { LoadJobRunner, type RunOutcome } from './load-job';

export { RESTART_QUEUED_REASON, RESTART_REASON } from './job-leases';
/** A finished job stays visible at least this long, so that whoever follows it sees how it ended. */
export const MIN_RETAIN_SECONDS = 60;
export const DEFAULT_MAX_QUEUED_PER_KEY = 16;

const SAVE_INTERVAL_MS = 1000;
/** Leases of held jobs are renewed this often (running ones are saved with their progress). */
const HEARTBEAT_MS = 10_000;
/** A lease not renewed for this long belongs to a process that is gone. */
const LEASE_MS = 60_000;
/** How long DELETE waits for a cancelled job to stop before answering. */
const CANCEL_WAIT_MS = 5000;
/** Runners stop within their grace period (4 s); close() waits this long at most. */
const CLOSE_WAIT_MS = 5000;

/** `maxQueuedPerKey` is optional until the config schema names it. */
export type JobsConfig = RingcacheConfig['jobs'] & { maxQueuedPerKey?: number };

export interface JobManagerOptions {
  config: JobsConfig;
  buckets: BucketRegistry;
  dispatcher: LoadDispatcher;
  nodeId: string;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  now?: () => number;
  /** Each finished key's own counters, as the key finishes (the node's job metrics). */
  onKeyFinished?: (counters: Readonly<JobCounters>) => void;
  /** First retry delay of batches and listings (tests shorten it). */
  retryBaseMs?: number;
  /** Lease renewal interval and lease length (tests shorten them). */
  heartbeatMs?: number;
  leaseMs?: number;
  /** After a cancel or shutdown, how long batches in flight may still report (tests shorten it). */
  abortGraceMs?: number;
}

interface Active {
  job: Job;
  runner: LoadJobRunner;
  done: Promise<void>;
  saveTimer?: NodeJS.Timeout;
  lastSaved: number;
  /** The run has ended; the final record is being saved. */
  finishing: boolean;
  /** Another process took the job over: nothing more is saved. */
  lost: boolean;
}

export class JobManager {
  private readonly active = new Map<string, Active>();
  private readonly queue: Job[] = [];
  private readonly leases: JobLeases;
  private readonly sweeper: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly now: () => number;
  private closed = false;
  /** The sweep under way (one at a time). */
  private sweeping: Promise<void> | undefined;

  private constructor(
    private readonly store: JobStore,
    private readonly options: JobManagerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.leases = new JobLeases(store, this.now, options.log, (job) => this.lose(job));
    this.sweeper = setInterval(() => void this.sweep(), Math.min(60_000, (options.leaseMs ?? LEASE_MS) / 2, this.retainMs / 2));
    this.sweeper.unref();
    this.heartbeat = setInterval(() => this.renewLeases(), options.heartbeatMs ?? HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  static async open(options: JobManagerOptions): Promise<JobManager> {
    const store = JobStore.open(options.config.stateDir, ({ reason, movedTo }) =>
      options.log.warn({ path: options.config.stateDir, movedTo, reason }, `the preload job state at ${options.config.stateDir} is damaged (${reason}); moved it to ${movedTo}: the jobs it held are forgotten`),
    );
    const manager = new JobManager(store, options);
    await manager.sweep();
    return manager;
  }

  async submit(spec: JobSpec, submittedBy: string): Promise<JobView> {
    if (this.closed) throw new Error('the job manager is closed');
    const limit = this.options.config.maxQueuedPerKey ?? DEFAULT_MAX_QUEUED_PER_KEY;
    const held = [...this.queue, ...[...this.active.values()].filter((a) => !a.finishing).map((a) => a.job)];
    const mine = held.filter((job) => job.submittedBy === submittedBy).length;
    if (mine >= limit) throw s3Error('SlowDown', `Access key ${submittedBy} has ${mine} load jobs queued or running on this node, the most allowed (jobs.maxQueuedPerKey); wait for one to finish.`);
    // NoSuchBucket (and a gateway without a cache) before anything is recorded.
    const bucket = await this.options.buckets.get(spec.bucket);
    if (!bucket.cache) throw s3Error('InvalidRequest', 'This gateway runs without a cache (cache.enabled is false): there is nothing to load into.');
    const job = newJob(spec, submittedBy, this.options.nodeId, this.now());
    await this.leases.save(job);
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
      await this.leases.save(job);
      return this.view(job);
    }
    const active = this.active.get(id);
    if (active) {
      active.runner.abort({ kind: 'cancel', reason });
      await Promise.race([active.done, sleep(CANCEL_WAIT_MS, undefined, { ref: false })]);
      return this.view(active.job);
    }
    return this.get(id);
  }

  /** Forgets finished jobs past their retention, and takes over the unfinished jobs no live process holds. */
  sweep(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        await this.store.purgeExpired(this.retainMs, this.now());
        await this.adoptOrphans();
      } catch (err) {
        this.options.log.warn({ err }, 'job sweep failed');
      }
      this.sweeping = undefined;
      this.pump();
    })();
    return this.sweeping;
  }

  /**
   * Stops dispatching at once: running jobs are aborted, their batches in flight get a few
   * seconds, then each job is saved "running" with its checkpoint and its lease released, to
   * resume at the next open (keys the shutdown interrupted are not failed). Then closes the store.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    clearInterval(this.heartbeat);
    const running = [...this.active.values()];
    for (const active of running) active.runner.abort({ kind: 'shutdown' });
    await this.sweeping; // it may still queue a job it claimed: released below
    for (const job of this.queue.splice(0)) void this.leases.save(job, { release: true });
    await Promise.race([Promise.all(running.map((a) => a.done)), sleep(CLOSE_WAIT_MS, undefined, { ref: false })]);
    for (const active of this.active.values()) {
      if (active.finishing || active.lost) continue;
      active.finishing = true; // a runner that did not stop in time: keep what it has
      this.capture(active);
      void this.leases.save(active.job, { release: true });
    }
    await this.leases.settled();
    await this.store.close();
  }

  private async adoptOrphans(): Promise<void> {
    for (const job of this.leases.orphans(this.options.leaseMs ?? LEASE_MS, (id) => this.holds(id))) {
      if (this.closed) return;
      const resumed = takeOver(job, { resume: this.options.config.resumeOnRestart, nodeId: this.options.nodeId, now: this.now() });
      if (!(await this.leases.claim(job)) || !resumed) continue;
      this.queue.push(job);
      this.options.log.info({ op: 'LoadJob', job: job.id, bucket: job.spec.bucket, resumeAfter: job.checkpoint?.afterKey }, 'load job resumed after its coordinator stopped');
    }
  }

  private holds(id: string): boolean {
    return this.active.has(id) || this.queue.some((job) => job.id === id);
  }

  private pump(): void {
    while (!this.closed && this.active.size < this.options.config.maxRunning && this.queue.length > 0) {
      this.start(this.queue.shift() as Job);
    }
  }

  private start(job: Job): void {
    job.state = 'running';
    job.startedAt ??= new Date(this.now()).toISOString();
    const settings = { ...this.options.config, retryBaseMs: this.options.retryBaseMs, abortGraceMs: this.options.abortGraceMs };
    const runner = new LoadJobRunner(job, { buckets: this.options.buckets, dispatcher: this.options.dispatcher, settings, onProgress: () => this.scheduleSave(job.id), onKeyFinished: this.options.onKeyFinished, now: this.now, log: this.options.log });
    const active: Active = { job, runner, done: Promise.resolve(), lastSaved: this.now(), finishing: false, lost: false };
    this.active.set(job.id, active);
    this.capture(active);
    // Runs only once the record says so under our lease (a job claimed elsewhere meanwhile is lost, not run).
    const run = (saved: boolean): Promise<RunOutcome> => (saved && !active.lost ? runner.run() : Promise.resolve({ state: 'interrupted' }));
    active.done = this.leases.save(job).then(run).then(
      (outcome) => this.finish(active, outcome),
      (err: unknown) => this.finish(active, { state: 'failed', reason: `InternalError: ${(err as Error).message}` }),
    );
  }

  /** Records how the run ended; the job stays in `active` (and get() shows it) until the record is saved. */
  private async finish(active: Active, outcome: RunOutcome): Promise<void> {
    const { job, runner } = active;
    if (active.finishing) return; // close() gave up waiting and saved it already
    active.finishing = true;
    clearTimeout(active.saveTimer);
    if (outcome.state === 'interrupted') {
      this.capture(active);
    } else {
      this.end(job, outcome.state, outcome.state === 'completed' ? undefined : outcome.reason);
      job.progress = runner.progress(Date.parse(job.finishedAt as string));
      if (outcome.state !== 'completed') job.progress.etaSeconds = null;
      job.checkpoint = undefined;
      this.options.log.info({ op: 'LoadJob', job: job.id, bucket: job.spec.bucket, state: job.state, reason: job.reason }, 'load job finished');
    }
    if (!active.lost) await this.leases.save(job, { release: outcome.state === 'interrupted' });
    this.active.delete(job.id);
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

  /** Saves the progress and checkpoint of a running job (renewing its lease). */
  private saveProgress(active: Active): void {
    if (active.finishing || active.lost) return;
    active.lastSaved = this.now();
    this.capture(active);
    void this.leases.save(active.job);
  }

  private renewLeases(): void {
    for (const active of this.active.values()) this.saveProgress(active);
    for (const job of this.queue) void this.leases.save(job);
  }

  private scheduleSave(id: string): void {
    const active = this.active.get(id);
    if (!active || active.saveTimer || active.finishing) return;
    active.saveTimer = setTimeout(() => {
      active.saveTimer = undefined;
      this.saveProgress(active);
    }, Math.max(0, SAVE_INTERVAL_MS - (this.now() - active.lastSaved)));
    active.saveTimer.unref();
  }

  /** Another process took the job over: stop running or queueing it here, and save nothing more. */
  private lose(job: Job): void {
    const active = this.active.get(job.id);
    const queued = this.queue.indexOf(job);
    if (queued !== -1) this.queue.splice(queued, 1);
    if (active && !active.lost) {
      active.lost = true;
      active.runner.abort({ kind: 'shutdown' });
    }
    this.options.log.warn({ op: 'LoadJob', job: job.id }, 'load job taken over by another process; stopped here');
  }

  private view(job: Job): JobView {
    const active = this.active.get(job.id);
    return active && !active.finishing ? { ...toView(job), progress: active.runner.progress() } : toView(job);
  }

  private get retainMs(): number {
    return Math.max(MIN_RETAIN_SECONDS, this.options.config.retainFinishedSeconds) * 1000;
  }

  private expired(job: Job): boolean {
    return isExpired(job, this.retainMs, this.now());
  }
}
