/**
 * Chooses the membership source from the configuration: etcd when `cluster.etcd` is set, Consul
 * when `cluster.consul` is, else static peers when there are any besides this node, else this
 * node by itself.
 */
import type { RingcacheConfig } from '../config/schema';
import { ConsulMembership } from './consul-membership';
import { EtcdMembership } from './etcd-membership';
import type { MemberInfo, Membership } from './membership';
import { SoloMembership } from './solo-membership';
import { StaticMembership, type AgreementTransport } from './static-membership';
import { majority } from './view-agreement';

type Log = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

export function createMembership(config: RingcacheConfig, self: MemberInfo, log: Log, transport: AgreementTransport, clock: () => number): Membership {
  const { peers, health, consul, etcd, lease, quorum } = config.cluster;
  if (etcd) return new EtcdMembership({ etcd, self, log, clock });
  if (consul) return new ConsulMembership({ consul, self, log, clock });
  const others = peers.filter((p) => p.id !== self.id);
  if (others.length === 0) return new SoloMembership(self, log);
  const configured = others.length + 1;
  return new StaticMembership({
    self,
    peers: others,
    ...health,
    leaseMs: lease.durationMs,
    bootstrapQuorum: quorum.bootstrap ?? majority(configured),
    transport,
    clock,
    log,
  });
}
