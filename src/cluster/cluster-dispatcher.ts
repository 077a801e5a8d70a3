/**
 * Preload jobs in a cluster: each key goes to its owner (the first owner that is not
 * suspect); batches for this node are loaded in-process, others through /cluster/load.
 */
import type { BucketRegistry } from '../mounts/bucket-registry';
import type { KeyLoadResult, LoadDispatcher, LoadOptions, LoadTarget } from '../jobs/load-dispatcher';
import { loadLocally } from '../jobs/load-locally';
import type { ClusterNode } from './cluster-node';
import { isUnreachable, PeerError, type PeerClient } from './peer-client';

/** A batch's answer comes after its keys are loaded: allow 1 minute plus 1 s per MiB (a store at 1 MiB/s). */
function batchDeadlineMs(items: readonly LoadTarget[], options: LoadOptions): number {
  const bytes = options.metadataOnly ? 0 : items.reduce((n, item) => n + item.size, 0);
  return 60_000 + Math.ceil(bytes / (1024 * 1024)) * 1000 + items.length * 100;
}

export class ClusterLoadDispatcher implements LoadDispatcher {
  constructor(
    private readonly node: ClusterNode,
    private readonly peers: PeerClient,
    private readonly buckets: BucketRegistry,
  ) {}

  ownerOf(bucket: string, key: string): string {
    return this.node.preferredOwner(bucket, key).id;
  }

  async loadBatch(nodeId: string, bucket: string, items: readonly LoadTarget[], options: LoadOptions, signal: AbortSignal): Promise<KeyLoadResult[]> {
    if (nodeId === this.node.self.id) return loadLocally(this.buckets, bucket, items, options, signal);
    const member = this.node.member(nodeId);
    if (!member) throw new PeerError(`node ${nodeId} is no longer a member`);
    try {
      return await this.peers.postJson<KeyLoadResult[]>(member, 'load', '/load', { bucket, items, options }, signal, batchDeadlineMs(items, options));
    } catch (err) {
      // Only a node that cannot be reached is suspect; a slow batch is retried, not blamed.
      if (!signal.aborted && isUnreachable(err)) this.node.markSuspect(nodeId);
      throw err;
    }
  }
}
