/**
 * The load-job runner's test bench: runner settings, a bucket "b" whose listing is in memory,
 * a running job, and the result of a key loaded.
 */
import type { ListEntry, ListOptions } from '../../ufs-adapters/types';
import type { BucketRegistry } from '../../src/mounts/bucket-registry';
import { s3Error } from '../../src/s3/errors';
import type { RunnerSettings } from '../../src/jobs/load-job';
import { emptyProgress, type FailureThreshold, type Job, type JobCheckpoint } from '../../src/jobs/job-types';
import type { KeyLoadResult, LoadTarget } from '../../src/jobs/load-dispatcher';

export const SETTINGS: RunnerSettings = { batchKeys: 8, batchBytes: 1 << 20, maxRetries: 3, recentFailures: 5, retryBaseMs: 1 };

export const keyName = (i: number): string => `data/k${String(i).padStart(3, '0')}`;

export function objects(n: number, size = (i: number) => 1000 + i): ListEntry[] {
  return Array.from({ length: n }, (_, i) => ({ kind: 'object', key: keyName(i), size: size(i), etag: '"e"', lastModified: new Date(0) }));
}

/** A bucket "b" whose listing is `entries`; `failAt` may throw before an entry (call 0 is the runner's counting pass). */
export function fakeBuckets(entries: ListEntry[], hooks: { failAt?: (key: string, options: ListOptions, call: number) => Error | undefined; lists?: ListOptions[] } = {}): BucketRegistry {
  let calls = 0;
  const adapter = {
    async *list(options: ListOptions): AsyncIterable<ListEntry> {
      const call = calls++;
      hooks.lists?.push(options);
      for (const entry of entries) {
        if (entry.kind !== 'object' || !entry.key.startsWith(options.prefix)) continue;
        if (options.startAfter !== undefined && entry.key <= options.startAfter) continue;
        const err = hooks.failAt?.(entry.key, options, call);
        if (err) throw err;
        yield entry;
      }
    },
  };
  return {
    get: async (name: string) => {
      if (name !== 'b') throw s3Error('NoSuchBucket');
      return { name, store: adapter };
    },
  } as unknown as BucketRegistry;
}

export function makeJob(overrides: { prefix?: string; bucket?: string; concurrency?: number; maxFailures?: FailureThreshold; checkpoint?: JobCheckpoint; progress?: Partial<Job['progress']> } = {}): Job {
  const at = new Date().toISOString();
  return {
    id: 'jtest',
    spec: {
      bucket: overrides.bucket ?? 'b',
      prefix: overrides.prefix ?? 'data/',
      options: { skipCached: true, metadataOnly: false, concurrency: overrides.concurrency ?? 2, bandwidthBytesPerSecond: 0, maxFailures: overrides.maxFailures ?? { kind: 'count', value: 0 } },
    },
    state: 'running',
    coordinator: 'n0',
    submittedBy: 'test',
    createdAt: at,
    startedAt: at,
    updatedAt: at,
    resumes: 0,
    progress: { ...emptyProgress(), ...overrides.progress },
    checkpoint: overrides.checkpoint,
  };
}

export const ok = (t: LoadTarget): KeyLoadResult => ({ key: t.key, ok: true, bytesLoaded: t.size, bytesSkipped: 0 });
