/**
 * Loads a batch of keys into this node's cache: the owner's side of a preload job. Keys are
 * warmed a few at a time; each gets its own result, so one bad key never fails the batch.
 */
import type { BucketRegistry } from '../mounts/bucket-registry';
import { Semaphore } from '../util/semaphore';
import { isRetryable, toS3Error } from '../s3/errors';
import type { KeyLoadResult, LoadOptions, LoadTarget } from './load-dispatcher';

/** Keys of one batch warmed at once on the owner. */
const KEYS_IN_FLIGHT = 4;
/**
 * Keys warmed at once on this node, over every batch of every coordinator: bounds the memory
 * (each key holds up to readAheadPages + 1 pages) and the store load whatever jobs ask.
 */
const NODE_KEYS_IN_FLIGHT = 16;

/** One set of slots per node (per bucket registry: tests run several nodes in one process). */
const nodeSlots = new WeakMap<BucketRegistry, Semaphore>();

export async function loadLocally(
  buckets: BucketRegistry,
  bucketName: string,
  items: readonly LoadTarget[],
  options: LoadOptions,
  signal?: AbortSignal,
): Promise<KeyLoadResult[]> {
  const bucket = await buckets.get(bucketName);
  const cache = bucket.cache;
  if (!cache) {
    return items.map((item) => ({ key: item.key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: 'CacheDisabled: this node has no cache', retryable: false }));
  }
  let slots = nodeSlots.get(buckets);
  if (!slots) nodeSlots.set(buckets, (slots = new Semaphore(NODE_KEYS_IN_FLIGHT)));
  const node = slots;
  const results: KeyLoadResult[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      const { key } = items[index];
      try {
        signal?.throwIfAborted();
        // A cancelled job leaves the node-wide queue at once instead of waiting for a slot.
        const warmed = await node.run(() => cache.warm(key, { ...options, signal }), signal);
        results[index] = { key, ok: true, bytesLoaded: warmed.bytesLoaded, bytesSkipped: warmed.bytesSkipped };
      } catch (err) {
        const s3 = toS3Error(err);
        results[index] = { key, ok: false, bytesLoaded: 0, bytesSkipped: 0, error: `${s3.code}: ${s3.message}`, retryable: isRetryable(s3) || signal?.aborted === true };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(KEYS_IN_FLIGHT, items.length) }, worker));
  return results;
}
