/**
 * Aborts multipart uploads older than `abandonedAfterSeconds`: with the adapter's own
 * cleanup where it has one (which also removes stale temporary files), otherwise through
 * listMultipartUploads + abortMultipartUpload.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RingcacheConfig } from '../config/schema';
import type { BucketRegistry } from '../mounts/bucket-registry';
import type { Metrics } from '../admin/metrics';

export async function sweepAbandonedUploads(buckets: BucketRegistry, maxAgeMs: number): Promise<number> {
  let swept = 0;
  const now = Date.now();
  for (const bucket of await buckets.list()) {
    if (bucket.store.cleanupAbandonedUploads) {
      swept += await bucket.store.cleanupAbandonedUploads(maxAgeMs);
      continue;
    }
    const stale = [];
    for await (const upload of bucket.store.listMultipartUploads('')) {
      if (now - upload.initiated.getTime() > maxAgeMs) stale.push(upload);
    }
    for (const upload of stale) {
      await bucket.store.abortMultipartUpload(upload.key, upload.uploadId).catch(() => undefined);
      swept++;
    }
  }
  return swept;
}

export function startMultipartSweeper(
  buckets: BucketRegistry,
  settings: RingcacheConfig['multipart'],
  metrics: Metrics,
  log: FastifyBaseLogger,
): () => void {
  const run = (): void => {
    sweepAbandonedUploads(buckets, settings.abandonedAfterSeconds * 1000)
      .then((n) => {
        metrics.multipartSwept.inc(n);
        if (n > 0) log.info({ swept: n }, 'aborted abandoned multipart uploads');
      })
      .catch((err) => log.warn({ err }, 'multipart sweep failed'));
  };
  const timer = setInterval(run, settings.sweepIntervalSeconds * 1000);
  timer.unref();
  const first = setTimeout(run, 1000);
  first.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(first);
  };
}
