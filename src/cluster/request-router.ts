/**
 * Decides where an S3 request is served. Object requests belong to the owner of their key:
 * a non-owner forwards them (or answers 307 in redirect mode). When the owner does not
 * answer it becomes suspect and the next owner on the ring is tried; when no owner can be
 * reached the request is served here, reads straight from the store without keeping pages.
 * Listing, bucket operations and requests forwarded by another node are served where they land.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../admin/metrics';
import type { Endpoint } from '../s3/endpoint';
import { s3Error } from '../s3/errors';
import type { ClusterNode } from './cluster-node';
import type { Forwarder } from './forwarder';
import type { MemberInfo } from './membership';
import { checkPeer } from './peer-auth';

/**
 * Where this node serves a request it did not hand on:
 * - owner: it owns the key, or another node forwarded the request here;
 * - failover: the owners before it in ring order are down (it serves as their successor);
 * - uncached: no owner could be reached; reads go to the store and keep nothing.
 */
export type Placement = { kind: 'owner' } | { kind: 'failover'; ownersAhead: MemberInfo[] } | { kind: 'uncached'; ownersAhead: MemberInfo[] };

export type RouteDecision = { kind: 'handled' } | Placement;

export interface RouterOptions {
  secret: string | undefined;
  mode: 'proxy' | 'redirect';
  /** Owners tried in ring order (the owner and its successors) before the store is read directly. */
  ownersTried: number;
}

const OWNER: Placement = { kind: 'owner' };
const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';

export class RequestRouter {
  constructor(
    private readonly node: ClusterNode,
    private readonly forwarder: Forwarder,
    private readonly options: RouterOptions,
    private readonly metrics: Metrics,
  ) {}

  async route(request: FastifyRequest, reply: FastifyReply, endpoint: Endpoint, signal: AbortSignal): Promise<RouteDecision> {
    const peer = checkPeer(this.options.secret, { method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers });
    if (peer.kind === 'invalid') throw s3Error('AccessDenied', `Invalid cluster hop marker: ${peer.reason}.`);
    if (peer.kind === 'peer') {
      this.metrics.clusterRouted.labels('from-peer').inc();
      return OWNER;
    }
    if (!('key' in endpoint) || endpoint.key === undefined || endpoint.op === 'NotImplemented' || this.node.size === 1) return OWNER;

    const owners = this.node.owners(endpoint.bucket, endpoint.key, this.options.ownersTried);
    const self = this.node.self.id;
    if (owners[0].id === self) {
      this.metrics.clusterRouted.labels('local').inc();
      return OWNER;
    }
    if (this.options.mode === 'redirect' && isRead(request.method)) {
      const target = owners.find((m) => !this.node.isSuspect(m.id)) ?? owners[0];
      if (target.id === self) return this.failover(owners, owners.indexOf(target));
      this.metrics.clusterRouted.labels('redirected').inc();
      await reply.code(307).header('location', new URL(request.raw.url ?? '/', target.url).href).send();
      return { kind: 'handled' };
    }
    for (let i = 0; i < owners.length; i++) {
      const candidate = owners[i];
      if (candidate.id === self) return this.failover(owners, i);
      if (this.node.isSuspect(candidate.id)) continue;
      if ((await this.forwarder.forward(request, reply, candidate, signal)) === 'answered') {
        this.metrics.clusterRouted.labels('forwarded').inc();
        return { kind: 'handled' };
      }
      this.node.markSuspect(candidate.id);
      this.metrics.clusterForwardFailures.labels(candidate.id).inc();
      request.log.warn({ peer: candidate.id }, 'owner did not answer; marked suspect, trying the next owner');
    }
    this.metrics.clusterRouted.labels('uncached').inc();
    return { kind: 'uncached', ownersAhead: owners.filter((m) => m.id !== self) };
  }

  private failover(owners: MemberInfo[], selfIndex: number): Placement {
    this.metrics.clusterRouted.labels('failover').inc();
    return { kind: 'failover', ownersAhead: owners.slice(0, selfIndex) };
  }
}
