/**
 * Preload jobs in a cluster: each key goes to its owner (the first owner that is not
 * suspect); batches for this node are loaded in-process, others through /cluster/load.
 */
import type { BucketRegistry } from '../mounts/bucket-registry';
import type { KeyLoadResult, LoadDispatcher, LoadOptions, LoadTarget } from '../jobs/load-dispatcher';
import { loadLocally } from '../jobs/load-locally';
import type { ClusterNode } from './cluster-node';
import { PeerError, type PeerClient } from './peer-client';

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
      return await this.peers.postJson<KeyLoadResult[]>(member, '/load', { bucket, items, options }, signal);
    } catch (err) {
      if (!signal.aborted && !(err instanceof PeerError && err.status !== undefined && err.status < 500)) this.node.markSuspect(nodeId);
      throw err;
    }
  }
}
