/**
 * The bookkeeping of a running job: live counters, recent failures, the rate window behind
 * the ETA, and the checkpoint a restarted coordinator resumes from.
 *
 * Checkpoint: keys are numbered in listing order (the UFS lists in UTF-8 byte order) and
 * finish out of order. From the oldest unfinished key to the listing head, keys sit in a
 * list of segments: each unfinished key is a segment of its own, and neighbouring finished
 * keys are merged into one run (their summed counters and last key). When the front run has
 * no unfinished key before it, it is folded into the committed counters and its last key
 * becomes the resume point. So the checkpoint's counters are exactly those of the keys up to
 * `afterKey`: a resumed job lists after it and counts nothing twice (keys finished beyond it
 * are loaded again; with skipCached they are skipped quickly). Memory follows the unfinished
 * keys, not how far the checkpoint lags behind the listing (one slow key).
 */
import type { FailureThreshold, JobCheckpoint, JobCounters, JobProgress, KeyFailure } from './job-types';
import { emptyCounters } from './job-types';

type KeyOutcome =
  | { kind: 'done'; bytesLoaded: number; bytesSkipped: number }
  | { kind: 'failed'; error: string; attempts: number };

/** One unfinished key (no `run`), or a run of finished keys in listing order. */
interface Segment {
  lastKey: string;
  run?: JobCounters;
  prev?: Segment;
  next?: Segment;
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
  private committedRetries: number;
  private first: Segment | undefined;
  private last: Segment | undefined;
  private readonly open = new Map<number, Segment>();
  private segmentCount = 0;
  private next = 0;
  private readonly samples: { at: number; bytes: number; files: number }[] = [];
  retries: number;
  recentFailures: KeyFailure[];
  listingComplete = false;
  filesTotal: number | null = null;
  bytesTotal: number | null = null;

  /** Resuming from `checkpoint`: failures of keys past it are dropped (those keys run again). */
  constructor(
    from: { checkpoint?: JobCheckpoint; retries?: number; recentFailures?: KeyFailure[] },
    private readonly keepFailures: number,
    private readonly now: () => number = Date.now,
  ) {
    const checkpoint = from.checkpoint;
    this.live = { ...(checkpoint?.counters ?? emptyCounters()) };
    this.committed = { ...this.live };
    this.afterKey = checkpoint?.afterKey;
    this.retries = this.committedRetries = from.retries ?? 0;
    const after = checkpoint && Buffer.from(checkpoint.afterKey);
    this.recentFailures = (from.recentFailures ?? []).filter((f) => !after || Buffer.compare(Buffer.from(f.key), after) <= 0);
  }

  /** Where the listing starts: after the checkpoint's key (undefined: from the beginning). */
  get resumeAfter(): string | undefined {
    return this.afterKey;
  }

  /** Keys listed and not yet folded into the checkpoint (how far it lags behind the listing). */
  get unsettled(): number {
    return this.live.filesListed - this.committed.filesListed;
  }

  /** Segments held in memory: at most twice the unfinished keys, plus one. */
  get segments(): number {
    return this.segmentCount;
  }

  /** The sequence number the next listed key gets. */
  get nextSeq(): number {
    return this.next;
  }

  get counters(): Readonly<JobCounters> {
    return this.live;
  }

  listed(key: string, size: number): Ticket {
    this.live.filesListed++;
    this.live.bytesListed += size;
    const segment: Segment = { lastKey: key, prev: this.last };
    if (this.last) this.last.next = segment;
    else this.first = segment;
    this.last = segment;
    this.segmentCount++;
    this.open.set(this.next, segment);
    return { seq: this.next++, key, size };
  }

  /** Records how a key ended; returns that key's own counters (what it adds to the job's). */
  finish(ticket: Ticket, outcome: KeyOutcome): Readonly<JobCounters> {
    let segment = this.open.get(ticket.seq);
    if (!segment) throw new Error(`key ${ticket.key} finished twice`);
    this.open.delete(ticket.seq);
    apply(this.live, ticket.size, outcome);
    if (outcome.kind === 'failed') {
      this.recentFailures.push({ key: ticket.key, error: outcome.error, attempts: outcome.attempts, at: new Date(this.now()).toISOString() });
      if (this.recentFailures.length > this.keepFailures) this.recentFailures.splice(0, this.recentFailures.length - this.keepFailures);
    }
    const own = { ...emptyCounters(), filesListed: 1, bytesListed: ticket.size };
    apply(own, ticket.size, outcome);
    segment.run = { ...own };
    if (segment.prev?.run) segment = this.merge(segment.prev, segment);
    if (segment.next?.run) this.merge(segment, segment.next);
    while (this.first?.run) {
      const done = this.first;
      add(this.committed, done.run as JobCounters);
      this.afterKey = done.lastKey;
      this.committedRetries = this.retries;
      this.unlink(done);
    }
    return own;
  }

  checkpoint(): JobCheckpoint | undefined {
    return this.afterKey === undefined ? undefined : { afterKey: this.afterKey, counters: { ...this.committed }, retries: this.committedRetries };
  }

  /** Folds run `later` into run `earlier` (its neighbour); returns `earlier`. */
  private merge(earlier: Segment, later: Segment): Segment {
    add(earlier.run as JobCounters, later.run as JobCounters);
    earlier.lastKey = later.lastKey;
    this.unlink(later);
    return earlier;
  }

  private unlink(segment: Segment): void {
    if (segment.prev) segment.prev.next = segment.next;
    else this.first = segment.next;
    if (segment.next) segment.next.prev = segment.prev;
    else this.last = segment.prev;
    segment.prev = segment.next = undefined;
    this.segmentCount--;
  }

  /** Has `threshold` been passed? Fractions are judged once `minSample` files are done, and always at the end. */
  failuresExceed(threshold: FailureThreshold, final: boolean, minSample = 100): boolean {
    const { filesFailed, filesDone } = this.live;
    if (threshold.kind === 'count') return filesFailed > threshold.value;
    if (!final && filesDone < minSample) return false;
    return filesDone > 0 && filesFailed / filesDone > threshold.value;
  }

  /** Why the job failed past `threshold`, with the last failure. */
  failureReason(threshold: FailureThreshold): string {
    const { filesFailed, filesDone } = this.live;
    const limit = threshold.kind === 'count' ? `${threshold.value} files` : `${+(threshold.value * 100).toFixed(4)}% of the files`;
    const last = this.recentFailures[this.recentFailures.length - 1];
    return `${filesFailed} of ${filesDone} files failed, more than the threshold (${limit})${last ? `; last: ${last.key}: ${last.error}` : ''}`;
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

function add(into: JobCounters, from: JobCounters): void {
  for (const name of Object.keys(into) as (keyof JobCounters)[]) into[name] += from[name];
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
