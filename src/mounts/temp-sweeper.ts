/**
 * Sweeps the temp files of interrupted writes out of every store that has them (local mounts and
 * dataDir buckets): once right at start-up, so what a crash left goes at the next start, then
 * every `sweepIntervalSeconds`. Separate from the multipart sweep, whose age is days.
 */
import type { RingcacheConfig } from '../config/schema';
import type { BucketRegistry } from './bucket-registry';

interface SweepLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** One pass over every bucket; returns the temp files removed. A store that fails is logged and skipped. */
async function sweepTempFiles(buckets: BucketRegistry, staleAfterMs: number, log: SweepLog): Promise<number> {
  let removed = 0;
  for (const bucket of await buckets.list()) {
    if (!bucket.store.sweepTempFiles) continue;
    try {
      removed += await bucket.store.sweepTempFiles(staleAfterMs);
    } catch (err) {
      log.warn({ err, bucket: bucket.name }, 'temp file sweep failed for this bucket');
    }
  }
  return removed;
}

/** Starts the sweeps; the returned function stops them and resolves once a running pass ended. */
export function startTempSweeper(buckets: BucketRegistry, settings: RingcacheConfig['tempFiles'], log: SweepLog): () => Promise<void> {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = (): void => {
    if (running || stopped) return;
    running = sweepTempFiles(buckets, settings.staleAfterSeconds * 1000, log)
      .then((n) => {
        if (n > 0) log.info({ removed: n }, 'removed temp files of interrupted writes');
      })
      .catch((err: unknown) => log.warn({ err }, 'temp file sweep failed'))
      .finally(() => {
        running = undefined;
      });
  };
  const first = setImmediate(run);
  const timer = setInterval(run, settings.sweepIntervalSeconds * 1000);
  timer.unref();
  return async () => {
    stopped = true;
    clearImmediate(first);
    clearInterval(timer);
    await running;
  };
}
