/**
 * Prometheus view of the preload jobs this node coordinates:
 *  - `ringcache_jobs{state}`: how many jobs are in each state now (kept finished jobs
 *    included), refreshed at each scrape from the job manager's list;
 *  - `ringcache_jobs_keys_total{result}` and `ringcache_jobs_bytes_total{result}`: counters
 *    bumped as each key finishes, so they only grow (a job that expires takes nothing away)
 *    and `rate()` gives the jobs' throughput. A job resumed after a restart counts the keys it
 *    runs again.
 */
import type { Metrics } from '../admin/metrics';
import type { JobCounters, JobState, JobView } from './job-types';

const STATES: JobState[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

export function updateJobMetrics(metrics: Metrics, jobs: readonly JobView[]): void {
  for (const state of STATES) metrics.jobs.labels(state).set(jobs.filter((j) => j.state === state).length);
}

/** The `onKeyFinished` of the job manager: adds one finished key to the counters. */
export function countFinishedKey(metrics: Metrics): (key: Readonly<JobCounters>) => void {
  const keys = { loaded: metrics.jobKeys.labels('loaded'), skipped: metrics.jobKeys.labels('skipped'), failed: metrics.jobKeys.labels('failed') };
  const bytes = { loaded: metrics.jobBytes.labels('loaded'), skipped: metrics.jobBytes.labels('skipped'), failed: metrics.jobBytes.labels('failed') };
  // Every series exists from the start (at 0), so rate() and increase() see the first keys.
  for (const counter of [...Object.values(keys), ...Object.values(bytes)]) counter.inc(0);
  return (key) => {
    if (key.filesLoaded) keys.loaded.inc(key.filesLoaded);
    if (key.filesSkipped) keys.skipped.inc(key.filesSkipped);
    if (key.filesFailed) keys.failed.inc(key.filesFailed);
    if (key.bytesLoaded) bytes.loaded.inc(key.bytesLoaded);
    if (key.bytesSkipped) bytes.skipped.inc(key.bytesSkipped);
    if (key.bytesFailed) bytes.failed.inc(key.bytesFailed);
  };
}
