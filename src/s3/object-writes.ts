/**
 * Writes of objects: the bucket's store commits, then this node's cache forgets the keys, also
 * when the write failed (it may have happened in part), before the answer goes out. So a reader
 * after an acknowledged write never gets the old version from this node.
 */
import type { UfsAdapter } from '../../ufs-adapters/types';
import type { Bucket } from '../mounts/bucket-registry';

export async function writing<T>(bucket: Bucket, keys: string | readonly string[], write: (store: UfsAdapter) => Promise<T>): Promise<T> {
  try {
    return await write(bucket.store);
  } finally {
    if (bucket.cache) for (const key of typeof keys === 'string' ? [keys] : keys) bucket.cache.invalidate(key);
  }
}
