/**
 * How a job manager shares its job records with the other nodes of a cluster (implemented by
 * src/cluster/job-replication.ts; a node by itself shares nothing). Every record a coordinator
 * saves is published; every node keeps the records it receives, so any node can show any job; a
 * job whose coordinator stops renewing its lease is taken over by one other node, the successor
 * the ring names for the job's id.
 */
import { isFinished, type Job } from './job-types';

export interface JobSharing {
  /** The other nodes' records have been received (or could not be): leases may be judged. */
  ready(): boolean;
  /** Sends a saved record to the other nodes; resolves once they have it (or after a short deadline). */
  publish(record: Job): Promise<void>;
  /** The node that takes over a job whose lease lapsed, leaving out `exclude` (its last holder); undefined: none. */
  successor(jobId: string, exclude: readonly string[]): string | undefined;
}

/** A node by itself: nothing to share, and it is the successor of every job. */
export const noSharing = (nodeId: string): JobSharing => ({
  ready: () => true,
  publish: async () => undefined,
  successor: () => nodeId,
});

/**
 * Which of two records of one job is newer: the one of the later claim (`term`), then, of two
 * claims of one term, a finished record over an unfinished one, then the greater claimant node id
 * (the same winner on every node), then the later save (`seq`). Records without these fields
 * (before job sharing) count as 0.
 *
 * Two claims of one term happen when a node cancels a job whose coordinator is gone while the
 * successor takes it over: the cancel was acknowledged to its client, so it must win wherever
 * the two records meet (the successor then loses the job and stops it), not the node id.
 */
export function compareRecords(a: Job, b: Job): number {
  const term = (a.term ?? 0) - (b.term ?? 0);
  if (term !== 0) return term;
  const finished = Number(isFinished(a.state)) - Number(isFinished(b.state));
  if (finished !== 0) return finished;
  if (a.coordinator !== b.coordinator) return a.coordinator < b.coordinator ? -1 : 1;
  return (a.seq ?? 0) - (b.seq ?? 0);
}

/** Ids this version gives jobs (job-types.ts newJob). */
const JOB_ID = /^j[0-9a-z]{1,40}$/;

/** The minimal shape of a job record received from another node. */
export function isJobRecord(value: unknown): value is Job {
  const job = value as Partial<Job> | null;
  return (
    typeof job === 'object' && job !== null && typeof job.id === 'string' && JOB_ID.test(job.id) && typeof job.state === 'string' &&
    typeof job.coordinator === 'string' && typeof job.spec === 'object' && job.spec !== null && typeof job.progress === 'object' && job.progress !== null
  );
}
