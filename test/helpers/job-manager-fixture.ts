/**
 * A job manager over a real LMDB job store in a temporary directory, with an in-memory
 * listing of N keys and a dispatcher that loads everything: the shared set-up of the job
 * manager and lease tests. `useJobManagers()` registers the per-test directory and clean-up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ListEntry, ListOptions } from '../../ufs-adapters/types';
import type { BucketRegistry } from '../../src/mounts/bucket-registry';
import { s3Error } from '../../src/s3/errors';
import type { BucketCache } from '../../src/cache/bucket-cache';
import { parseConfig } from '../../src/config/load-config';
import { JobManager, type JobManagerOptions, type JobsConfig } from '../../src/jobs/job-manager';
import type { JobSpec } from '../../src/jobs/job-types';
import type { LoadDispatcher, LoadTarget } from '../../src/jobs/load-dispatcher';

export const N = 200;
export const keys = Array.from({ length: N }, (_, i) => `k${String(i).padStart(4, '0')}`);
export const SIZE = 100;

const buckets = {
  get: async (name: string) => {
    if (name !== 'b') throw s3Error('NoSuchBucket');
    return {
      name,
      // A cache for the bucket is all the manager checks; the dispatcher does the loading.
      cache: {} as BucketCache,
      store: {
        async *list(options: ListOptions): AsyncIterable<ListEntry> {
          for (const key of keys) {
            if (key.startsWith(options.prefix) && (options.startAfter === undefined || key > options.startAfter)) yield { kind: 'object', key, size: SIZE, etag: '"e"', lastModified: new Date(0) };
          }
        },
      },
    };
  },
} as unknown as BucketRegistry;

/** Loads everything, `delayMs` per batch; remembers the keys it was sent. */
export function dispatcher(delayMs: number): LoadDispatcher & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    ownerOf: () => 'n0',
    async loadBatch(_node, _bucket, items: readonly LoadTarget[], _options, signal) {
      await new Promise((r) => setTimeout(r, delayMs));
      signal.throwIfAborted();
      sent.push(...items.map((i) => i.key));
      return items.map((t) => ({ key: t.key, ok: true, bytesLoaded: t.size, bytesSkipped: 0 }));
    },
  };
}

export const SPEC: JobSpec = { bucket: 'b', prefix: '', options: { skipCached: true, metadataOnly: false, concurrency: 1, bandwidthBytesPerSecond: 0, maxFailures: { kind: 'count', value: 0 } } };

type OpenOverrides = Partial<JobManagerOptions> & { jobs?: Record<string, unknown>; extra?: Partial<JobsConfig> };

/** Registers a fresh state directory per test (closing every manager opened after it) and returns `dir()` and `open()`. */
export function useJobManagers(): { dir: () => string; open: (overrides?: OpenOverrides) => Promise<JobManager> } {
  let dir = '';
  const opened: JobManager[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ringcache-jobs-'));
  });
  afterEach(async () => {
    for (const m of opened.splice(0)) await m.close();
    await rm(dir, { recursive: true, force: true });
  });
  const quiet = { info: () => undefined, warn: () => undefined };
  return {
    dir: () => dir,
    async open(overrides = {}) {
      const { jobs, extra, ...options } = overrides;
      const config = parseConfig({ dataDir: '/tmp/unused', credentials: [{ accessKeyId: 'abc', secretAccessKey: 'abcdefgh' }], jobs: { stateDir: dir, batchKeys: 10, ...jobs } });
      const manager = await JobManager.open({ config: { ...config.jobs, ...extra }, buckets, dispatcher: dispatcher(0), nodeId: 'n0', log: quiet, retryBaseMs: 1, ...options });
      opened.push(manager);
      return manager;
    },
  };
}

export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
