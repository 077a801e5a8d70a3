/**
 * The bookkeeping of a running job: live counters, recent failures, the rate window behind
 * the ETA, and the checkpoint a restarted coordinator resumes from.
 *
 * Checkpoint: keys are numbered in listing order (the UFS lists in UTF-8 byte order) and
 * finish out of order. The keys from the oldest unfinished one to the listing head wait in a
 * queue; when the oldest finishes, the queue's finished front is folded into the committed
 * counters and its last key becomes the resume point. So the checkpoint's counters are
 * exactly those of the keys up to `afterKey`: a resumed job lists after it and counts nothing
 * twice (keys finished beyond it are loaded again; with skipCached they are skipped quickly).
 */
import type { JobCheckpoint, JobCounters, JobProgress, KeyFailure } from './job-types';
import { emptyCounters } from './job-types';

export type KeyOutcome =
  | { kind: 'done'; bytesLoaded: number; bytesSkipped: number }
  | { kind: 'failed'; error: string; attempts: number };

interface Pending {
  key: string;
  size: number;
  outcome?: KeyOutcome;
}

/** A listed key, to be finished once. */
export interface Ticket {
  readonly seq: number;
  readonly key: string;
  readonly size: number;
}

const RATE_WINDOW_MS = 10_000;

export class ProgressTracker {
  private readonly live: JobCounters;
  private readonly committed: JobCounters;
  private afterKey: string | undefined;
  private readonly queue: Pending[] = [];
  /** queue[head] is the oldest unsettled key; queue[0] has sequence number `base`. */
  private head = 0;
  private base = 0;
  private next = 0;
  private readonly samples: { at: number; bytes: number; files: number }[] = [];
  retries: number;
  recentFailures: KeyFailure[];
  listingComplete = false;
  filesTotal: number | null = null;
  bytesTotal: number | null = null;

  constructor(
    from: { checkpoint?: JobCheckpoint; retries?: number; recentFailures?: KeyFailure[] },
    private readonly keepFailures: number,
    private readonly now: () => number = Date.now,
  ) {
    this.live = { ...(from.checkpoint?.counters ?? emptyCounters()) };
    this.committed = { ...this.live };
    this.afterKey = from.checkpoint?.afterKey;
    this.retries = from.retries ?? 0;
    this.recentFailures = [...(from.recentFailures ?? [])];
  }

  /** Where the listing starts: after the checkpoint's key (undefined: from the beginning). */
  get resumeAfter(): string | undefined {
    return this.afterKey;
  }

  /** Keys listed and not yet folded into the checkpoint (the runner bounds this). */
  get unsettled(): number {
    return this.queue.length - this.head;
  }

  get counters(): Readonly<JobCounters> {
    return this.live;
  }

  listed(key: string, size: number): Ticket {
    this.live.filesListed++;
    this.live.bytesListed += size;
    this.queue.push({ key, size });
    return { seq: this.next++, key, size };
  }

  finish(ticket: Ticket, outcome: KeyOutcome): void {
    const index = ticket.seq - this.base;
    const entry = index >= this.head ? this.queue[index] : undefined;
    if (!entry || entry.outcome) throw new Error(`key ${ticket.key} finished twice`);
    entry.outcome = outcome;
    apply(this.live, entry.size, outcome);
    if (outcome.kind === 'failed') {
      this.recentFailures.push({ key: ticket.key, error: outcome.error, attempts: outcome.attempts, at: new Date(this.now()).toISOString() });
      if (this.recentFailures.length > this.keepFailures) this.recentFailures.splice(0, this.recentFailures.length - this.keepFailures);
    }
    while (this.head < this.queue.length && this.queue[this.head].outcome) {
      const done = this.queue[this.head] as Required<Pending>;
      this.committed.filesListed++;
      this.committed.bytesListed += done.size;
      apply(this.committed, done.size, done.outcome);
      this.afterKey = done.key;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  checkpoint(): JobCheckpoint | undefined {
    return this.afterKey === undefined ? undefined : { afterKey: this.afterKey, counters: { ...this.committed } };
  }

  /** Has `threshold` been passed? Fractions are judged once `minSample` files are done, and always at the end. */
  failuresExceed(threshold: { kind: 'count' | 'fraction'; value: number }, final: boolean, minSample = 100): boolean {
    const { filesFailed, filesDone } = this.live;
    if (threshold.kind === 'count') return filesFailed > threshold.value;
    if (!final && filesDone < minSample) return false;
    return filesDone > 0 && filesFailed / filesDone > threshold.value;
  }

  snapshot(startedAtMs: number, metadataOnly: boolean, endedAtMs?: number): JobProgress {
    const now = this.now();
    const elapsedMs = Math.max(0, (endedAtMs ?? now) - startedAtMs);
    const c = this.live;
    return {
      ...c,
      listingComplete: this.listingComplete,
      filesTotal: this.filesTotal,
      bytesTotal: this.bytesTotal,
      retries: this.retries,
      throughputBytesPerSecond: elapsedMs > 0 ? Math.round((c.bytesLoaded / elapsedMs) * 1000) : 0,
      elapsedSeconds: Math.round(elapsedMs / 100) / 10,
      etaSeconds: endedAtMs === undefined ? this.eta(now, metadataOnly) : 0,
      recentFailures: [...this.recentFailures],
    };
  }

  /** What is left divided by the rate of the last ten seconds (bytes, or files when there are no bytes to move). */
  private eta(now: number, metadataOnly: boolean): number | null {
    const c = this.live;
    const last = this.samples[this.samples.length - 1];
    if (!last || now - last.at >= 250) this.samples.push({ at: now, bytes: c.bytesDone, files: c.filesDone });
    while (this.samples.length > 2 && now - this.samples[1].at >= RATE_WINDOW_MS) this.samples.shift();
    const filesTotal = this.filesTotal ?? (this.listingComplete ? c.filesListed : null);
    const bytesTotal = this.bytesTotal ?? (this.listingComplete ? c.bytesListed : null);
    if (filesTotal === null || bytesTotal === null) return null;
    const byFiles = metadataOnly || bytesTotal === 0;
    const left = byFiles ? filesTotal - c.filesDone : bytesTotal - c.bytesDone;
    if (left <= 0) return 0;
    const first = this.samples[0];
    const seconds = (now - first.at) / 1000;
    const moved = byFiles ? c.filesDone - first.files : c.bytesDone - first.bytes;
    if (seconds < 0.5 || moved <= 0) return null;
    return Math.ceil(left / (moved / seconds));
  }
}

function apply(counters: JobCounters, size: number, outcome: KeyOutcome): void {
  counters.filesDone++;
  counters.bytesDone += size;
  if (outcome.kind === 'failed') {
    counters.filesFailed++;
    counters.bytesFailed += size;
    return;
  }
  counters.bytesLoaded += outcome.bytesLoaded;
  counters.bytesSkipped += outcome.bytesSkipped;
  // Skipped: nothing read from the store and something found cached. Empty objects and
  // metadata-only loads have no pages: they count as loaded (their metadata was cached).
  if (outcome.bytesLoaded === 0 && outcome.bytesSkipped > 0) counters.filesSkipped++;
  else counters.filesLoaded++;
}
