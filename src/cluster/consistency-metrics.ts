/**
 * Metrics of the ownership protocol, registered on the node's registry next to the others:
 *   ringcache_cluster_epoch                 the agreed view this node holds
 *   ringcache_cluster_lease                 1 while this node holds its ownership lease
 *   ringcache_cluster_fenced_total{reason}  requests held back or refused by the protocol:
 *     stale-epoch (a peer's request from an older view), behind (a newer view could not be
 *     learnt in time), no-lease (this node owns nothing now), moved (a key it gained is still
 *     fenced), stand-in (a write whose owner cannot be reached waited for a new view)
 *   ringcache_cluster_revalidations_total   cached metadata not trusted because ownership of its
 *     key was not continuous since it was fetched (the key is asked of the store again)
 */
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../admin/metrics';

export type FenceReason = 'stale-epoch' | 'behind' | 'no-lease' | 'moved' | 'stand-in';

export interface ConsistencyMetrics {
  fenced(reason: FenceReason): void;
  revalidated(): void;
}

export function consistencyMetrics(metrics: Metrics, state: { epoch(): number; leaseValid(): boolean }): ConsistencyMetrics {
  const registers = [metrics.registry];
  new Gauge({ name: 'ringcache_cluster_epoch', help: 'The agreed ring version (epoch) this node holds', registers, collect() { this.set(state.epoch()); } });
  new Gauge({ name: 'ringcache_cluster_lease', help: '1 while this node holds its ownership lease (it may serve the keys it owns from its cache)', registers, collect() { this.set(state.leaseValid() ? 1 : 0); } });
  const fenced = new Counter({ name: 'ringcache_cluster_fenced_total', help: 'Requests held back or refused by the ownership protocol, by reason', labelNames: ['reason'] as const, registers });
  const revalidations = new Counter({ name: 'ringcache_cluster_revalidations_total', help: 'Cached metadata revalidated because this node did not own its key continuously since it was fetched', registers });
  return { fenced: (reason) => fenced.labels(reason).inc(), revalidated: () => revalidations.inc() };
}
