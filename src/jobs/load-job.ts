/**
 * Runs one load job as its coordinator:
 *
 *  - streams the listing of bucket/prefix from the store (never the whole listing in
 *    memory; a listing error worth retrying resumes after the last key listed);
 *  - groups keys by owner (`dispatcher.ownerOf`) into batches of at most `batchKeys` keys or
 *    `batchBytes` listed bytes, and sends each full batch to its owner with at most
 *    `concurrency` batches in flight (the listing waits for a free slot: backpressure);
 *  - applies the bandwidth limit as batches are dispatched, by listed size (metadata-only:
 *    nothing); bytes a batch found already cached are given back afterwards, so the limit
 *    bounds what is read from the store on average, not each instant;
 *  - retries a batch whose node cannot be reached, and keys that failed with a retryable
 *    error, up to `maxRetries` times with exponential backoff, re-asking the owner each
 *    time (the ring may have changed); records every other failure per key;
 *  - fails the job once the failure threshold is passed; stops on cancel or shutdown. After
 *    a stop, keys that still come back loaded are counted; keys the stop interrupted stay
 *    open (not failed); batches get a grace period to answer, then the job ends anyway.
 *
 * Alongside, a counting pass lists the prefix once more, summing only, so that progress has
 * a total (and an ETA) long before the dispatch reaches the end of a large prefix.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { toS3Error } from '../s3/errors';
import { ByteRateLimiter } from './byte-rate-limiter';
import { backoffMs, countObjects, listObjects, ListingError } from './job-listing';
import type { Job, JobCheckpoint, JobCounters, JobProgress } from './job-types';
import type { KeyLoadResult, LoadDispatcher, LoadOptions } from './load-dispatcher';
import { ProgressTracker, type Ticket } from './progress-tracker';

export interface RunnerSettings {
  batchKeys: number;
  batchBytes: number;
  maxRetries: number;
  recentFailures: number;
  /** First retry delay; doubles each attempt, capped at 5 s. */
  retryBaseMs?: number;
  /** After a cancel or shutdown, how long batches in flight may still report (default 4 s). */
  abortGraceMs?: number;
  /** How far the checkpoint may lag behind the listing before partial batches go out (default 50,000 keys). */
  checkpointLag?: number;
}

interface RunnerDeps {
  buckets: BucketRegistry;
  dispatcher: LoadDispatcher;
  settings: RunnerSettings;
  /** Called after every change of progress (the job manager decides when to persist). */
  onProgress?: () => void;
  /** Called with each finished key's own counters (metrics count them as they happen). */
  onKeyFinished?: (counters: Readonly<JobCounters>) => void;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

export type RunOutcome =
  | { state: 'completed' }
  | { state: 'failed'; reason: string }
  | { state: 'cancelled'; reason: string }
  /** Stopped by a shutdown: the job stays "running" in the store, to be resumed. */
  | { state: 'interrupted' };

/** After a stop, batches in flight may still report for this long (a DELETE waits 5 s for the job to stop). */
const ABORT_GRACE_MS = 4_000;
/** Keys listed but not yet folded into the checkpoint; past this, partial batches holding the oldest keys go out. */
const CHECKPOINT_LAG = 50_000;

type StopReason = { kind: 'cancel'; reason: string } | { kind: 'shutdown' } | { kind: 'failed'; reason: string };
type Adapter = Awaited<ReturnType<BucketRegistry['get']>>['store'];

export class LoadJobRunner {
  readonly tracker: ProgressTracker;
  private readonly controller = new AbortController();
  /** Stops the counting pass: at any stop, and when the run ends. */
  private readonly counting = new AbortController();
  private readonly aborted: Promise<void>;
  private stop: StopReason | undefined;
  /** Set once the runner has stopped listening: later results are ignored. */
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly limiter: ByteRateLimiter;
  private readonly batchBytes: number;
  private readonly groups = new Map<string, { tickets: Ticket[]; bytes: number }>();
  private readonly now: () => number;
  private readonly loadOptions: LoadOptions;

  constructor(
    private readonly job: Job,
    private readonly deps: RunnerDeps,
  ) {
    this.now = deps.now ?? Date.now;
    const from = job.checkpoint;
    this.tracker = new ProgressTracker(
      { checkpoint: from, retries: from ? (from.retries ?? job.progress.retries) : 0, recentFailures: from ? job.progress.recentFailures : [] },
      deps.settings.recentFailures,
      this.now,
    );
    const { options } = job.spec;
    this.limiter = new ByteRateLimiter(options.metadataOnly ? 0 : options.bandwidthBytesPerSecond);
    // With a bandwidth limit, a batch is at most a quarter second of it (and at least one key).
    this.batchBytes = this.limiter.unlimited ? deps.settings.batchBytes : Math.min(deps.settings.batchBytes, Math.max(1, Math.floor(options.bandwidthBytesPerSecond / 4)));
    this.loadOptions = { skipCached: options.skipCached, metadataOnly: options.metadataOnly };
    this.aborted = new Promise((resolve) => this.controller.signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  progress(endedAtMs?: number): JobProgress {
    return this.tracker.snapshot(Date.parse(this.job.startedAt ?? this.job.createdAt), this.job.spec.options.metadataOnly, endedAtMs);
  }

  checkpoint(): JobCheckpoint | undefined {
    return this.tracker.checkpoint();
  }

  /** Cancel (the job ends "cancelled") or shutdown (it stays "running" in the store, to resume). */
  abort(reason: { kind: 'cancel'; reason: string } | { kind: 'shutdown' }): void {
    this.stopWith(reason);
  }

  /**
   * Runs the job to its end. After an abort it waits at most the grace period for the
   * listing and the batches in flight, then returns anyway; results that come later are
   * ignored. Keys that an abort interrupted are left unfinished (not failed).
   */
  async run(): Promise<RunOutcome> {
    const { maxFailures } = this.job.spec.options;
    const work = this.work();
    await Promise.race([work, this.aborted]);
    if (this.signal.aborted) await Promise.race([Promise.all([work, ...this.inFlight]), sleep(this.deps.settings.abortGraceMs ?? ABORT_GRACE_MS, undefined, { ref: false })]);
    this.closed = true;
    this.counting.abort();
    if (!this.stop && this.tracker.failuresExceed(maxFailures, true)) this.stopWith({ kind: 'failed', reason: this.tracker.failureReason(maxFailures) });
    const stop = this.stop as StopReason | undefined;
    if (!stop) return { state: 'completed' };
    if (stop.kind === 'shutdown') return { state: 'interrupted' };
    return { state: stop.kind === 'cancel' ? 'cancelled' : 'failed', reason: stop.reason };
  }

  /** Lists, dispatches, and waits for the batches. Never rejects: an error stops the job as failed. */
  private async work(): Promise<void> {
    const { spec } = this.job;
    try {
      const bucket = await this.deps.buckets.get(spec.bucket);
      void this.countPass(bucket.store, this.counting.signal);
      await this.listAndDispatch(bucket.store);
      if (!this.signal.aborted) {
        for (const owner of [...this.groups.keys()]) await this.dispatchGroup(owner);
      }
      await Promise.all(this.inFlight);
    } catch (err) {
      if (this.signal.aborted) return;
      if (err instanceof ListingError) {
        this.deps.log?.warn({ err, bucket: spec.bucket, job: this.job.id }, 'load job listing failed');
        this.stopWith({ kind: 'failed', reason: err.message });
        return;
      }
      const s3 = toS3Error(err);
      if (s3.status >= 500) this.deps.log?.warn({ err, bucket: spec.bucket, job: this.job.id }, 'load job failed');
      this.stopWith({ kind: 'failed', reason: `${s3.code}: ${s3.message}` });
    }
  }

  private stopWith(reason: StopReason): void {
    if (this.stop) return;
    this.stop = reason;
    this.counting.abort();
    this.controller.abort(reason);
  }

  private async listAndDispatch(adapter: Adapter): Promise<void> {
    const { settings } = this.deps;
    const options = {
      prefix: this.job.spec.prefix,
      startAfter: this.tracker.resumeAfter,
      signal: this.signal,
      maxRetries: settings.maxRetries,
      retryBaseMs: settings.retryBaseMs,
      onRetry: () => this.tracker.retries++,
    };
    const complete = await listObjects(adapter, options, async (key, size) => {
      await this.add(this.tracker.listed(key, size));
      this.deps.onProgress?.();
    });
    if (!complete) return;
    this.tracker.listingComplete = true;
    this.tracker.filesTotal = this.tracker.counters.filesListed;
    this.tracker.bytesTotal = this.tracker.counters.bytesListed;
  }

  /** Sums the prefix (files, bytes) so that progress has a total early. Best effort. */
  private async countPass(adapter: Adapter, signal: AbortSignal): Promise<void> {
    const total = await countObjects(adapter, this.job.spec.prefix, signal);
    // Without a total, progress has no ETA until the listing ends; the job itself goes on.
    if (!total || this.tracker.listingComplete) return;
    this.tracker.filesTotal = total.files;
    this.tracker.bytesTotal = total.bytes;
    this.deps.onProgress?.();
  }

  private async add(ticket: Ticket): Promise<void> {
    let owner: string;
    try {
      owner = this.deps.dispatcher.ownerOf(this.job.spec.bucket, ticket.key);
    } catch (err) {
      this.stopWith({ kind: 'failed', reason: `no owner for ${ticket.key}: ${(err as Error).message}` });
      return;
    }
    let group = this.groups.get(owner);
    if (!group) this.groups.set(owner, (group = { tickets: [], bytes: 0 }));
    group.tickets.push(ticket);
    group.bytes += ticket.size;
    if (group.tickets.length >= this.deps.settings.batchKeys || group.bytes >= this.batchBytes) await this.dispatchGroup(owner);
    const lag = this.deps.settings.checkpointLag ?? CHECKPOINT_LAG;
    if (this.tracker.unsettled > lag) {
      // A soft limit: a partial batch whose oldest key is that far behind the listing goes out
      // now (its owner gets few keys). Keys already in flight are not waited for: one slow key
      // holds the checkpoint back, not the job.
      for (const [waiting, held] of [...this.groups]) {
        if (this.tracker.nextSeq - held.tickets[0].seq > lag) await this.dispatchGroup(waiting);
      }
    }
  }

  /** Sends the owner's pending group once a slot and the bandwidth allow. */
  private async dispatchGroup(owner: string): Promise<void> {
    const group = this.groups.get(owner);
    if (!group) return;
    this.groups.delete(owner);
    while (this.inFlight.size >= this.job.spec.options.concurrency && !this.signal.aborted) await Promise.race([...this.inFlight, this.aborted]);
    if (this.signal.aborted) return;
    const cost = this.job.spec.options.metadataOnly ? 0 : group.bytes;
    await this.limiter.take(cost, this.signal).catch(() => undefined);
    if (this.signal.aborted) return;
    const running: Promise<void> = this.runBatch(owner, group.tickets, cost).finally(() => this.inFlight.delete(running));
    this.inFlight.add(running);
  }

  /** One batch, with its retries. Never rejects. */
  private async runBatch(firstOwner: string, tickets: Ticket[], cost: number): Promise<void> {
    const { bucket, options } = this.job.spec;
    let pending = tickets;
    let loaded = 0;
    try {
      for (let attempt = 0; pending.length > 0 && !this.signal.aborted; attempt++) {
        const last = attempt >= this.deps.settings.maxRetries;
        const byOwner = attempt === 0 ? new Map([[firstOwner, pending]]) : this.regroup(pending, firstOwner);
        if (attempt > 0) this.tracker.retries += byOwner.size;
        const again: Ticket[] = [];
        await Promise.all(
          [...byOwner].map(async ([node, group]) => {
            let results: KeyLoadResult[] | Error;
            try {
              results = await this.deps.dispatcher.loadBatch(node, bucket, group.map((t) => ({ key: t.key, size: t.size })), this.loadOptions, this.signal);
              if (results.length !== group.length || results.some((r, i) => r.key !== group[i].key)) results = new Error(`node ${node} answered ${results.length} results for ${group.length} keys`);
            } catch (err) {
              results = err instanceof Error ? err : new Error(String(err));
            }
            if (this.closed) return; // too late: the job has already ended
            group.forEach((ticket, i) => {
              const result = Array.isArray(results) ? results[i] : undefined;
              if (result?.ok) {
                loaded += result.bytesLoaded;
                this.finished(this.tracker.finish(ticket, { kind: 'done', bytesLoaded: result.bytesLoaded, bytesSkipped: result.bytesSkipped }));
              } else if (this.signal.aborted) {
                // Interrupted by the stop itself: the key stays open (a resumed job loads it again).
              } else if (!last && (!result || result.retryable)) {
                again.push(ticket);
              } else {
                const error = result ? (result.error ?? 'failed') : `Unreachable: node ${node}: ${(results as Error).message}`;
                this.finished(this.tracker.finish(ticket, { kind: 'failed', error, attempts: attempt + 1 }));
              }
            });
          }),
        );
        this.deps.onProgress?.();
        if (!this.stop && this.tracker.failuresExceed(options.maxFailures, false)) this.stopWith({ kind: 'failed', reason: this.tracker.failureReason(options.maxFailures) });
        pending = again;
        if (pending.length > 0) await sleep(backoffMs(attempt, this.deps.settings.retryBaseMs), undefined, { signal: this.signal }).catch(() => undefined);
      }
    } finally {
      this.limiter.refund(Math.max(0, cost - loaded));
    }
  }

  /** Tells the metrics about a finished key (its own counters). */
  private finished(key: Readonly<JobCounters>): void {
    this.deps.onKeyFinished?.(key);
  }

  /** The tickets by their owner now; one whose owner cannot be named stays with `fallback` (the call then fails and is retried). */
  private regroup(tickets: Ticket[], fallback: string): Map<string, Ticket[]> {
    const byOwner = new Map<string, Ticket[]>();
    for (const ticket of tickets) {
      let owner = fallback;
      try {
        owner = this.deps.dispatcher.ownerOf(this.job.spec.bucket, ticket.key);
      } catch {
        // keep the previous owner
      }
      const list = byOwner.get(owner);
      if (list) list.push(ticket);
      else byOwner.set(owner, [ticket]);
    }
    return byOwner;
  }
}
