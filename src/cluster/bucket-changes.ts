/**
 * Bucket creation and deletion, visible on every node before they are acknowledged. Nodes keep
 * what they know of a bucket for a moment (`BUCKET_RECHECK_MS`, so that a request does not cost
 * a stat of its folder); the node that created or deleted one tells every other member to forget
 * it, and waits for their answers. A member that does not answer in time (down, partitioned) has
 * forgotten it anyway once the recheck time has passed since the change: the announcement waits
 * for that instead.
 */
import { BUCKET_RECHECK_MS, type BucketChange } from '../mounts/bucket-registry';
import type { ClusterNode } from './cluster-node';
import type { PeerClient } from './peer-client';

/** How long a member may take to confirm. */
const CONFIRM_MS = 1000;

export class BucketChanges {
  constructor(
    private readonly node: ClusterNode,
    private readonly peers: PeerClient,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  async announce(bucket: string, change: BucketChange): Promise<void> {
    const started = Date.now();
    const others = this.node.view().members.filter((m) => !m.self);
    if (others.length === 0) return;
    const answers = await Promise.all(
      others.map((member) =>
        this.peers.postJson(member, 'buckets', '/buckets', { bucket, change }, undefined, CONFIRM_MS).then(
          () => true,
          (err: unknown) => {
            this.log.warn({ peer: member.id, bucket, change, err: (err as Error).message }, 'a member did not confirm a bucket change; waiting for its cached view to lapse');
            return false;
          },
        ),
      ),
    );
    if (answers.every(Boolean)) return;
    const lapse = started + BUCKET_RECHECK_MS + 100 - Date.now();
    if (lapse > 0) await new Promise((resolve) => setTimeout(resolve, lapse));
  }
}
