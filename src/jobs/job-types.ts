/**
 * The shapes of a preload (load) job: what was asked (JobSpec), where it stands (JobState,
 * JobProgress) and the record kept in the job store and returned by the API (Job).
 */
import { randomBytes } from 'node:crypto';

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

const FINISHED_STATES: ReadonlySet<JobState> = new Set(['completed', 'failed', 'cancelled']);

export const isFinished = (state: JobState): boolean => FINISHED_STATES.has(state);

/** Past this many failed files (count) or this fraction of the files (0..1), the job fails. */
export type FailureThreshold = { kind: 'count'; value: number } | { kind: 'fraction'; value: number };

export interface JobOptions {
  /** Pages already cached are skipped (true), or every page is read again (false). */
  skipCached: boolean;
  /** Cache the metadata (stat) only, no pages. */
  metadataOnly: boolean;
  /** Batches in flight at once. */
  concurrency: number;
  /** Bytes per second dispatched, by listed size (0: unlimited). */
  bandwidthBytesPerSecond: number;
  maxFailures: FailureThreshold;
}

export interface JobSpec {
  bucket: string;
  prefix: string;
  options: JobOptions;
}

/** One key that failed for good (after its retries). */
export interface KeyFailure {
  key: string;
  /** S3-style code and message, e.g. "ServiceUnavailable: ..." or "Unreachable: node n2: ...". */
  error: string;
  attempts: number;
  at: string;
}

/** Counters of finished keys; also what a checkpoint carries. */
export interface JobCounters {
  filesListed: number;
  bytesListed: number;
  /** Keys finished, whatever the outcome, and their listed bytes. */
  filesDone: number;
  bytesDone: number;
  /** Keys whose pages (or metadata) were read from the store. */
  filesLoaded: number;
  bytesLoaded: number;
  /** Keys whose every page was already cached (nothing read), and bytes found cached. */
  filesSkipped: number;
  bytesSkipped: number;
  filesFailed: number;
  /** Listed bytes of the failed keys. */
  bytesFailed: number;
}

export interface JobProgress extends JobCounters {
  /** The listing reached the end of the prefix. */
  listingComplete: boolean;
  /** Files and bytes under the prefix, from a counting pass that runs alongside; null until it finishes. */
  filesTotal: number | null;
  bytesTotal: number | null;
  /** Batch and key retries so far. */
  retries: number;
  /** Bytes loaded from the store per second of elapsed time. */
  throughputBytesPerSecond: number;
  elapsedSeconds: number;
  /** From the recent rate of keys done and what is left; null while unknown. */
  etaSeconds: number | null;
  /** The last failures (newest last); `filesFailed` is the exact count. */
  recentFailures: KeyFailure[];
}

/**
 * Where a coordinator that stops can pick the job up again: every key up to and including
 * `afterKey` (listing order) is done, and `counters` are the counters of exactly those keys.
 */
export interface JobCheckpoint {
  afterKey: string;
  counters: JobCounters;
  /** Retries counted when the checkpoint last advanced (a resumed job starts from these). */
  retries?: number;
}

/**
 * Who runs an unfinished job: a random id of the process (new at every start) and when it
 * last renewed the lease. Absent: nobody (the job was released by a graceful shutdown).
 */
export interface JobLease {
  holder: string;
  renewedAt: string;
  /** The node id of the holding process (a process of the same node id that finds it is its restart, and takes it at once). */
  node?: string;
}

export interface Job {
  id: string;
  spec: JobSpec;
  state: JobState;
  /** Why the job failed or was cancelled; for a resumed job, a note about it. */
  reason?: string;
  /** Node that coordinates the job. */
  coordinator: string;
  /** Access key id of the submitter. */
  submittedBy: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  /** Times the job was picked up again after its coordinator restarted, and the last time. */
  resumes: number;
  resumedAt?: string;
  progress: JobProgress;
  /** Internal (not part of the API view). */
  checkpoint?: JobCheckpoint;
  /** Internal: the lease of the process that runs (or queues) the job. */
  lease?: JobLease;
  /** Internal: claims of the job so far (0: its first coordinator; each takeover adds one). */
  term?: number;
  /** Internal: saves under this claim (orders the records of one claim). */
  seq?: number;
}

/** The job as the API shows it. */
export type JobView = Omit<Job, 'checkpoint' | 'lease' | 'term' | 'seq'>;

export function emptyCounters(): JobCounters {
  return {
    filesListed: 0,
    bytesListed: 0,
    filesDone: 0,
    bytesDone: 0,
    filesLoaded: 0,
    bytesLoaded: 0,
    filesSkipped: 0,
    bytesSkipped: 0,
    filesFailed: 0,
    bytesFailed: 0,
  };
}

export function emptyProgress(): JobProgress {
  return {
    ...emptyCounters(),
    listingComplete: false,
    filesTotal: null,
    bytesTotal: null,
    retries: 0,
    throughputBytesPerSecond: 0,
    elapsedSeconds: 0,
    etaSeconds: null,
    recentFailures: [],
  };
}

/** A new job, queued; its id sorts by creation time: "j" + base-36 milliseconds + 6 random hex digits. */
export function newJob(spec: JobSpec, submittedBy: string, coordinator: string, now: number): Job {
  const at = new Date(now).toISOString();
  const id = `j${now.toString(36).padStart(9, '0')}${randomBytes(3).toString('hex')}`;
  return { id, spec, state: 'queued', coordinator, submittedBy, createdAt: at, updatedAt: at, resumes: 0, progress: emptyProgress() };
}

export function toView(job: Job): JobView {
  const { checkpoint: _checkpoint, lease: _lease, term: _term, seq: _seq, ...view } = job;
  return view;
}

/** Marks a job ended now, in `state`, with `reason` (cancellations and failures). */
export function endJob(job: Job, state: 'completed' | 'failed' | 'cancelled', reason: string | undefined, now: number): void {
  job.state = state;
  job.reason = reason;
  job.finishedAt = new Date(now).toISOString();
}
