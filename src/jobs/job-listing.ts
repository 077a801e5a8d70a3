/**
 * The listing side of a load job: the prefix listed as a stream (a listing error worth
 * retrying starts again after the last key listed), the sums-only counting pass that gives
 * progress a total early, and the retry delays shared with the batches.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { UfsAdapter } from '../../ufs-adapters/types';
import { isRetryable, toS3Error } from '../s3/errors';

const MAX_BACKOFF_MS = 5_000;

/** `baseMs` doubled each attempt, 5 s at most, with ±20% jitter. */
export function backoffMs(attempt: number, baseMs = 200): number {
  return Math.min(MAX_BACKOFF_MS, baseMs * 2 ** attempt) * (0.8 + Math.random() * 0.4);
}

/** The listing gave up: its reason names the attempts and the last error. */
export class ListingError extends Error {
  override name = 'ListingError';
}

interface ListingOptions {
  prefix: string;
  /** Start after this key (a resumed job: its checkpoint). */
  startAfter: string | undefined;
  signal: AbortSignal;
  maxRetries: number;
  retryBaseMs?: number;
  /** Called before each retry. */
  onRetry(err: unknown): void;
}

/**
 * Calls `each` for every object under the prefix, in listing order, awaiting it (the caller's
 * backpressure). Returns true once the listing reached its end, false when aborted; throws a
 * ListingError when an error is not worth retrying or the retries are spent.
 */
export async function listObjects(adapter: Pick<UfsAdapter, 'list'>, options: ListingOptions, each: (key: string, size: number) => Promise<void>): Promise<boolean> {
  const { prefix, signal } = options;
  let startAfter = options.startAfter;
  for (let attempt = 0; ; attempt++) {
    try {
      for await (const entry of adapter.list({ prefix, startAfter: startAfter || undefined, signal })) {
        if (signal.aborted) return false;
        if (entry.kind !== 'object') continue;
        startAfter = entry.key;
        attempt = 0;
        await each(entry.key, entry.size);
      }
      return !signal.aborted;
    } catch (err) {
      if (signal.aborted) return false;
      const s3 = toS3Error(err);
      if (!isRetryable(s3) || attempt >= options.maxRetries) {
        throw new ListingError(`listing failed after ${attempt + 1} attempt(s): ${s3.code}: ${s3.message}`, { cause: err });
      }
      options.onRetry(err);
      await sleep(backoffMs(attempt, options.retryBaseMs), undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Sums the objects under the prefix; undefined when aborted or the listing failed (best effort). */
export async function countObjects(adapter: Pick<UfsAdapter, 'list'>, prefix: string, signal: AbortSignal): Promise<{ files: number; bytes: number } | undefined> {
  let files = 0;
  let bytes = 0;
  try {
    for await (const entry of adapter.list({ prefix, signal })) {
      if (signal.aborted) return undefined;
      if (entry.kind !== 'object') continue;
      files++;
      bytes += entry.size;
    }
    return signal.aborted ? undefined : { files, bytes };
  } catch {
    return undefined;
  }
}
