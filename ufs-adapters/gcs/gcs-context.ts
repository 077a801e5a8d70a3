/** What every GCS operation needs: the client, the bucket, the name mapping and the tunables. */
import type { Bucket, Storage } from '@google-cloud/storage';
import type { GcsNames } from './gcs-names';

export interface GcsContext {
  storage: Storage;
  bucket: Bucket;
  names: GcsNames;
  /** Bodies up to this size are buffered and sent as one simple (multipart) upload. */
  simpleUploadThreshold: number;
  /** Chunk size of resumable uploads (a multiple of 256 KiB). */
  resumableChunkSize: number;
  /** maxResults of each objects.list call. */
  listPageSize: number;
  /** Minimum size of every part but the last (S3's 5 MiB; lowered only by tests). */
  minPartSize: number;
  /** A download waiting longer than this for its next chunk fails with Unavailable. */
  readIdleTimeoutMs: number;
  /**
   * Retries of a simple upload after a transient failure: the client's maxRetries as
   * configured (read once: the library switches `retryOptions.autoRetry` off and on while it
   * runs calls).
   */
  uploadRetries: number;
  /** Parallel requests for compose levels and deletes of temporaries. */
  concurrency: number;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Deletes objects, ignoring the ones already gone; other failures are left to the cleanup sweep. */
export async function deleteQuietly(ctx: GcsContext, names: readonly string[]): Promise<void> {
  await mapLimit(names, ctx.concurrency, async (name) => {
    await ctx.bucket
      .file(name)
      .delete({ ignoreNotFound: true })
      .catch(() => undefined);
  });
}
