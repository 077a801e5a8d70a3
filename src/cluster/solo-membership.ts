/**
 * A node by itself (no peers, no Consul, no etcd): one view, epoch 1, with only this node, and a
 * lease that never ends. The cluster node owns every key without fences.
 */
import { Lease } from './lease';
import { ViewSet, type MemberInfo, type Membership } from './membership';
import { ViewedMembership } from './viewed-membership';

export class SoloMembership extends ViewedMembership implements Membership {
  readonly lease = new Lease(() => 0);
  readonly leaseMs = 0;

  constructor(self: MemberInfo, log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }) {
    super(new ViewSet(log));
    this.views.set({ epoch: 1, members: [self] });
    this.lease.extend(0, Number.MAX_SAFE_INTEGER);
  }

  async start(): Promise<void> {}

  async catchUp(epoch: number): Promise<boolean> {
    return this.views.get().epoch >= epoch;
  }

  async stop(): Promise<void> {}
}
