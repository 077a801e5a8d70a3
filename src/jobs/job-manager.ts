/**
 * The jobs this node coordinates: submit, get, list, cancel; at most `maxRunning` run at
 * once (the others wait "queued"), and at most `maxQueuedPerKey` queued or running per access
 * key. A running job is persisted on every state change and at most once a second while it
 * progresses, with its checkpoint; a final state is saved durably before the job leaves
 * memory.
 *
 * Every job held here (queued or running) is under this process's lease (job-leases.ts),
 * renewed every leaseSeconds/6 (10 s at most); a graceful close releases the leases with the
 * checkpoints. A sweep (at open, then every leaseSeconds/2, 30 s at most) takes over unfinished
 * jobs whose lease was released or lapsed: they resume from their checkpoint (`resumeOnRestart`,
 * the default), or are marked failed with the reason. A job whose lease another process took is
 * stopped here.
 *
 * In a cluster (`sharing`), every record saved here is sent to the other nodes and theirs are
 * kept here (`receive`): any node shows any job, and a job shows `running` only while its
 * coordinator renews the lease (a lapsed one shows `queued` until it is taken over). Of the nodes
 * that see a lease lapse, the one the ring names for the job takes it over, with a claim number
 * one higher; a coordinator that receives a newer claim of its job stops it. The taker resumes
 * from the last checkpoint it received, whose counters are exact: nothing is counted twice.
 *
 * Finished jobs are forgotten `retainFinishedSeconds` (at least a minute) after they end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RingcacheConfig } from '../config/schema';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { s3Error } from '../s3/errors';
import { ActiveJob } from './active-job';
import { JobLeases, takeOver } from './job-leases';
import { compareRecords, isJobRecord, noSharing, type JobSharing } from './job-sharing';
import { JobStore, isExpired } from './job-store';
import { endJob, isFinished, newJob, toView, type Job, type JobCounters, type JobSpec, type JobView } from './job-types';
import type { LoadDispatcher } from './load-dispatcher';
import { LoadJobRunner } from './load-job';

export { RESTART_QUEUED_REASON, RESTART_REASON } from './job-leases';
/** A finished job stays visible at least this long, so that whoever follows it sees how it ended. */
export const MIN_RETAIN_SECONDS = 60;
const DEFAULT_MAX_QUEUED_PER_KEY = 16;

/** Leases of held jobs are renewed at least this often (running ones are saved with their progress). */
const MAX_HEARTBEAT_MS = 10_000;
/** A lease not renewed for this long belongs to a process that is gone (jobs.leaseSeconds). */
const DEFAULT_LEASE_MS = 60_000;
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
  /** The cluster's job records (default: a node by itself). */
  sharing?: JobSharing;
}

export class JobManager {
  private readonly active = new Map<string, ActiveJob>();
  private readonly queue: Job[] = [];
  private readonly leases: JobLeases;
  private readonly sweeper: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly now: () => number;
  private closed = false;
  /** The sweep under way (one at a time). */
  private sweeping: Promise<void> | undefined;
  private readonly sharing: JobSharing;
  /** When this process last received each job's record from another node. */
  private readonly heard = new Map<string, number>();

  private constructor(
    private readonly store: JobStore,
    private readonly options: JobManagerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sharing = options.sharing ?? noSharing(options.nodeId);
    this.leases = new JobLeases(store, options.nodeId, this.now, options.log, (job) => this.lose(job), (record) => this.sharing.publish(record));
    this.sweeper = setInterval(() => void this.sweep(), Math.min(30_000, this.leaseMs / 2, this.retainMs / 2));
    this.sweeper.unref();
    this.heartbeat = setInterval(() => this.renewLeases(), options.heartbeatMs ?? Math.min(MAX_HEARTBEAT_MS, this.leaseMs / 6));
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

  /**
   * Records another node sent (its coordinator's saves, or a sync): each kept if it is newer
   * than the one held here. A job held here that another node claimed since is stopped here.
   * @public JobRecordsHolder (cluster/job-replication.ts).
   */
  async receive(records: readonly Job[]): Promise<void> {
    for (const record of records) {
      if (!isJobRecord(record)) continue;
      const held = this.active.get(record.id)?.job ?? this.queue.find((job) => job.id === record.id);
      const current = this.store.get(record.id);
      if (current && compareRecords(record, current) <= 0) continue;
      if (held && compareRecords(record, held) <= 0) continue;
      const kept = await this.store.saveIf(record, (now) => now === undefined || compareRecords(record, now) > 0);
      if (!kept) continue;
      this.heard.set(record.id, this.now());
      if (held) this.lose(held);
    }
  }

  /** Every record kept here (shared with a node that asks: it just started, or came back). @public JobRecordsHolder. */
  records(): Job[] {
    return this.store.list().filter((job) => !this.expired(job));
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
    // Every node knows the job before it is acknowledged (a client may ask any node next).
    await this.sharing.publish(structuredClone(job));
    this.queue.push(job);
    this.pump();
    return this.view(job);
  }

  get(id: string): JobView | undefined {
    const job = this.active.get(id)?.job ?? this.store.get(id);
    return job && !this.expired(job) ? this.view(job) : undefined;
  }

  /** Newest first: every job this node knows, its own and those other nodes coordinate. */
  list(): JobView[] {
    return this.store
      .list()
      .map((stored) => this.active.get(stored.id)?.job ?? stored)
      .filter((job) => !this.expired(job))
      .map((job) => this.view(job));
  }

  /** The jobs this node coordinates (its metrics). */
  coordinated(): JobView[] {
    return this.list().filter((job) => job.coordinator === this.options.nodeId);
  }

  /**
   * The node that holds an unfinished job under a live lease, when it is another node (a cancel
   * goes there); undefined when the job is held here, finished, unknown, or its lease lapsed.
   */
  holderElsewhere(id: string): string | undefined {
    if (this.holds(id)) return undefined;
    const job = this.store.get(id);
    if (!job || isFinished(job.state) || this.lapsed(job)) return undefined;
    return job.lease?.node ?? job.coordinator;
  }

  /** Cancels a queued or running job and waits (a few seconds at most) until it has stopped. Finished jobs are returned as they are. */
  async cancel(id: string, by: string): Promise<JobView | undefined> {
    const reason = `cancelled by ${by}`;
    const queued = this.queue.findIndex((job) => job.id === id);
    if (queued !== -1) {
      const [job] = this.queue.splice(queued, 1);
      endJob(job, 'cancelled', reason, this.now());
      await this.leases.save(job);
      return this.view(job);
    }
    const active = this.active.get(id);
    if (active) {
      active.runner.abort({ kind: 'cancel', reason });
      await Promise.race([active.done, sleep(CANCEL_WAIT_MS, undefined, { ref: false })]);
      return this.view(active.job);
    }
    // A job nobody holds any more (its coordinator is gone): claimed here, and ended.
    const orphan = this.store.get(id);
    if (orphan && !isFinished(orphan.state) && this.lapsed(orphan) && !this.closed) {
      const job = structuredClone(orphan);
      takeOver(job, { resume: true, nodeId: this.options.nodeId, now: this.now() });
      endJob(job, 'cancelled', reason, this.now());
      job.progress.etaSeconds = null;
      job.checkpoint = undefined;
      if (await this.leases.claim(job)) return this.view(job);
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
    for (const active of this.active.values()) active.saveUnfinished();
    await this.leases.settled();
    await this.store.close();
  }

  private async adoptOrphans(): Promise<void> {
    // Not before the other nodes' records are in: one of them may have claimed a job since.
    if (!this.sharing.ready()) return;
    for (const job of this.leases.orphans(this.leaseMs, (id) => this.holds(id), (id) => this.heardAt(id))) {
      if (this.closed) return;
      // One node takes a job over: the ring's successor for it, without its last holder (this
      // node itself takes the jobs of its own previous process).
      const last = job.lease?.node ?? job.coordinator;
      if (last !== this.options.nodeId && this.sharing.successor(job.id, [last]) !== this.options.nodeId) continue;
      const previous = job.coordinator;
      const resumed = takeOver(job, { resume: this.options.config.resumeOnRestart, nodeId: this.options.nodeId, now: this.now() });
      if (!(await this.leases.claim(job)) || !resumed) continue;
      this.queue.push(job);
      this.options.log.info({ op: 'LoadJob', job: job.id, bucket: job.spec.bucket, from: previous, resumeAfter: job.checkpoint?.afterKey }, 'load job taken over after its coordinator stopped');
    }
  }

  /**
   * When this process last received the job's record from another node (-Infinity: never; a
   * record this node's own processes wrote is judged by its renewal time alone, one clock).
   */
  private heardAt(id: string): number {
    return this.heard.get(id) ?? -Infinity;
  }

  /** A job held by nobody alive: its lease released, or not renewed for leaseMs (by the record's clock and by when we last heard of it). */
  private lapsed(job: Job): boolean {
    const lease = job.lease;
    if (!lease) return true;
    if (lease.node === this.options.nodeId && !this.holds(job.id)) return lease.holder !== this.leases.holder;
    const now = this.now();
    return now - Date.parse(lease.renewedAt) >= this.leaseMs && now - this.heardAt(job.id) >= this.leaseMs;
  }

  private get leaseMs(): number {
    return this.options.leaseMs ?? (this.options.config.leaseSeconds === undefined ? DEFAULT_LEASE_MS : this.options.config.leaseSeconds * 1000);
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
    const runner = new LoadJobRunner(job, { buckets: this.options.buckets, dispatcher: this.options.dispatcher, settings, onProgress: () => this.active.get(job.id)?.scheduleSave(), onKeyFinished: this.options.onKeyFinished, now: this.now, log: this.options.log });
    const active = new ActiveJob(job, runner, this.leases, this.now, this.options.log);
    this.active.set(job.id, active);
    active.capture();
    // The job stays in `active` (and get() shows it) until its final record is saved.
    active.done = active.run().then((ended) => {
      if (!ended) return;
      this.active.delete(job.id);
      this.pump();
    });
  }

  private renewLeases(): void {
    for (const active of this.active.values()) active.saveProgress();
    for (const job of this.queue) void this.leases.save(job);
  }

  /** Another process took the job over: stop running or queueing it here, and save nothing more. */
  private lose(job: Job): void {
    const active = this.active.get(job.id);
    const queued = this.queue.indexOf(job);
    if (queued !== -1) this.queue.splice(queued, 1);
    active?.lose();
    this.options.log.warn({ op: 'LoadJob', job: job.id }, 'load job taken over by another process; stopped here');
  }

  private view(job: Job): JobView {
    const active = this.active.get(job.id);
    if (active && !active.finishing) return { ...toView(job), progress: active.runner.progress() };
    // "running" only while a coordinator holds the lease: a lapsed job waits to be taken over.
    if (!isFinished(job.state) && !this.holds(job.id) && job.lease && this.lapsed(job)) {
      return { ...toView(job), state: 'queued', reason: `coordinator ${job.lease.node ?? job.coordinator} stopped renewing its lease; another node takes the job over`, progress: { ...job.progress, etaSeconds: null } };
    }
    return toView(job);
  }

  private get retainMs(): number {
    return Math.max(MIN_RETAIN_SECONDS, this.options.config.retainFinishedSeconds) * 1000;
  }

  private expired(job: Job): boolean {
    return isExpired(job, this.retainMs, this.now());
  }
}
