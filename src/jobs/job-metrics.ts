/**
 * Prometheus view of the preload jobs this node coordinates, refreshed at each scrape from
 * the job manager's list (running jobs and the finished ones it still keeps).
 */
import type { Metrics } from '../admin/metrics';
import type { JobState, JobView } from './job-types';

const STATES: JobState[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

export function updateJobMetrics(metrics: Metrics, jobs: readonly JobView[]): void {
  for (const state of STATES) metrics.jobs.labels(state).set(jobs.filter((j) => j.state === state).length);
  const sum = (pick: (j: JobView) => number): number => jobs.reduce((n, j) => n + pick(j), 0);
  metrics.jobBytes.labels('listed').set(sum((j) => j.progress.bytesListed));
  metrics.jobBytes.labels('loaded').set(sum((j) => j.progress.bytesLoaded));
  metrics.jobBytes.labels('skipped').set(sum((j) => j.progress.bytesSkipped));
  metrics.jobBytes.labels('failed').set(sum((j) => j.progress.bytesFailed));
}
