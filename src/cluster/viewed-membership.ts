/**
 * What every membership source answers the same way from its ViewSet (the agreed view, its
 * members, and listeners of either): static peers, Consul, etcd and a node by itself extend it.
 */
import type { AgreedView, MemberInfo, ViewSet } from './membership';

export abstract class ViewedMembership {
  protected constructor(protected readonly views: ViewSet) {}

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
}
