/**
 * A node by itself (no peers, no Consul, no etcd): one view, epoch 1, with only this node, and a
 * lease that never ends. The cluster node owns every key without fences.
 */
import { Lease } from './lease';
import { ViewSet, type AgreedView, type MemberInfo, type Membership } from './membership';

export class SoloMembership implements Membership {
  readonly lease = new Lease(() => 0);
  readonly leaseMs = 0;
  private readonly views: ViewSet;

  constructor(self: MemberInfo, log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }) {
    this.views = new ViewSet(log);
    this.views.set({ epoch: 1, members: [self] });
    this.lease.extend(0, Number.MAX_SAFE_INTEGER);
  }

  async start(): Promise<void> {}

  view(): AgreedView {
    return this.views.get();
  }

  members(): readonly MemberInfo[] {
    return this.views.get().members;
  }

  onChange(listener: (members: readonly MemberInfo[]) => void): () => void {
    return this.views.onChange(listener);
  }

  onView(listener: (view: AgreedView) => void): () => void {
    return this.views.onView(listener);
  }

  async catchUp(epoch: number): Promise<boolean> {
    return this.views.get().epoch >= epoch;
  }

  async stop(): Promise<void> {}
}
