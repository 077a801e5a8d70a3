/**
 * Chooses the membership source from the configuration: Consul when `cluster.consul` is
 * set, otherwise the static peer list (empty by default: one node by itself).
 */
import type { Dispatcher } from 'undici';
import type { RingcacheConfig } from '../config/schema';
import { ConsulMembership } from './consul-membership';
import type { MemberInfo, Membership } from './membership';
import { StaticMembership } from './static-membership';

/** `probes`: the HTTP client of static peers' health probes (TLS settings of node-to-node calls). */
export function createMembership(config: RingcacheConfig, self: MemberInfo, log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }, probes?: Dispatcher): Membership {
  const { peers, health, consul } = config.cluster;
  if (consul) return new ConsulMembership({ consul, self, log });
  return new StaticMembership({ self, peers, ...health, healthPath: '/_ringcache/healthz', log, dispatcher: probes });
}
