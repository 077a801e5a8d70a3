/**
 * The single-node dispatcher: this node owns every key, and loads batches into its own
 * cache. The cluster replaces it with one that routes each key to its owner on the ring.
 */
import type { BucketRegistry } from '../mounts/bucket-registry';
import type { LoadDispatcher } from './load-dispatcher';
import { loadLocally } from './load-locally';

export function localDispatcher(buckets: BucketRegistry, nodeId: string): LoadDispatcher {
  return {
    ownerOf: () => nodeId,
    async loadBatch(node, bucket, items, options, signal) {
      if (node !== nodeId) throw new Error(`node ${node} is not this node (${nodeId}) and there is no cluster`);
      return loadLocally(buckets, bucket, items, options, signal);
    },
  };
}
