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
import { peerTransportTrusted, type NodeTls } from './node-tls';
import type { HopVerifier } from './peer-auth';
import { EPOCH_HEADER } from './peer-client';
import { isClusterError } from './cluster-errors';

/**
 * Where this node serves a request it did not hand on:
 * - owner: it owns the key;
 * - failover: the owners before it in ring order are down, or did not answer the node that
 *   forwarded the request here; it serves as their successor;
 * - uncached: no owner could be reached; reads go to the store.
 * Outside "owner", reads keep nothing (no pages, no metadata: the owner may return any
 * moment and change the object without telling this node) and writes are relayed to the
 * owners ahead as invalidations.
 */
export type Placement = { kind: 'owner' } | { kind: 'failover'; ownersAhead: MemberInfo[] } | { kind: 'uncached'; ownersAhead: MemberInfo[] };

type RouteDecision = { kind: 'handled' } | Placement;

interface RouterOptions {
  verifier: HopVerifier;
  tls: Pick<NodeTls, 'mutual'>;
  /** Owners this node still has to tell about writes served for them: not sent new work until told. */
  owesInvalidations(id: string): boolean;
  /** A write went past owner `ownerId` (it did not take it): that owner is to be told about the key. */
  writeMissed(bucket: string, key: string, ownerId: string): void;
  mode: 'proxy' | 'redirect';
  /** Owners tried in ring order (the owner and its successors) before the store is read directly. */
  ownersTried: number;
  /** A write whose owner cannot be reached waits this long for a view without it (default 0: 503 at once). */
  standInWaitMs?: number;
  /** Reads on a node without its ownership lease: from the store without caching, or 503. */
  onLoss?: 'store' | 'unavailable';
}

/** How long a peer's request waits for this node to learn the newer ring version it was stamped with. */
const CATCH_UP_MS = 2000;
const UNCACHED: Placement = { kind: 'uncached', ownersAhead: [] };

const OWNER: Placement = { kind: 'owner' };

/** S3 URI encoding of a key: every byte but unreserved characters, "/" kept. */
const encodeKey = (key: string): string =>
  key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');

/** The owner's path-style URL of the object, with the original query (works for path- and virtual-hosted requests). */
function redirectLocation(target: MemberInfo, bucket: string, key: string, rawUrl: string): string {
  const queryAt = rawUrl.indexOf('?');
  const query = queryAt >= 0 ? rawUrl.slice(queryAt) : '';
  return `${new URL(target.url).origin}/${encodeURIComponent(bucket)}/${encodeKey(key)}${query}`;
}
const isRead = (method: string): boolean => method === 'GET' || method === 'HEAD';
/** The 503 of a write whose key moved to another node while it waited (cluster-node whenWritable). */
const movedAway = (err: unknown): boolean => err instanceof Error && isClusterError(err.cause) && err.cause.kind === 'NotOwner';

export class RequestRouter {
  constructor(
    private readonly node: ClusterNode,
    private readonly forwarder: Forwarder,
    private readonly options: RouterOptions,
    private readonly metrics: Metrics,
  ) {}

  async route(request: FastifyRequest, reply: FastifyReply, endpoint: Endpoint, signal: AbortSignal): Promise<RouteDecision> {
    const peer = this.options.verifier.verify('forward', { method: request.method, rawUrl: request.raw.url ?? '/', headers: request.headers });
    if (peer.kind === 'invalid') throw s3Error('AccessDenied', `Invalid cluster hop marker: ${peer.reason}.`);
    if (peer.kind === 'peer' && !peerTransportTrusted(this.options.tls, request.raw)) throw s3Error('AccessDenied', 'Node-to-node requests need a client certificate of the cluster (mutual TLS).');
    const isObject = 'key' in endpoint && endpoint.key !== undefined && endpoint.op !== 'NotImplemented';
    if (peer.kind === 'peer') {
      this.metrics.clusterRouted.labels('from-peer').inc();
      await this.admitEpoch(request, peer.from, signal);
      if (!isObject) return OWNER;
      // Never forwarded again; but a node that is not the owner in its own view stands in.
      const owners = this.node.owners(endpoint.bucket as string, endpoint.key as string, this.options.ownersTried);
      const at = owners.findIndex((m) => m.id === this.node.self.id);
      const placement: Placement = at === 0 ? OWNER : at > 0 ? { kind: 'failover', ownersAhead: owners.slice(0, at) } : { kind: 'uncached', ownersAhead: owners };
      return this.settle(request.method, endpoint.bucket as string, endpoint.key as string, placement, signal);
    }
    if (!isObject) return OWNER;
    for (let attempt = 0; ; attempt++) {
      const epoch = this.node.epoch;
      const decision = await this.routeObject(request, reply, endpoint as Endpoint & { bucket: string; key: string }, signal);
      if (decision.kind === 'handled') return decision;
      if (isRead(request.method) || decision.kind === 'owner') {
        try {
          return await this.settle(request.method, endpoint.bucket as string, endpoint.key as string, decision, signal);
        } catch (err) {
          // A write that waited for its fence while a new view moved the key elsewhere: its body is
          // still unread, so it goes to the new owner instead of answering 503.
          if (attempt < 3 && !isRead(request.method) && movedAway(err)) continue;
          throw err;
        }
      }
      // A write whose owner cannot be reached: the owner may be alive behind a partition and
      // serving the key from its cache, so no other node takes the write until a view without it
      // is agreed (its lease has then run out). Wait for one, then route again.
      this.node.fenced('stand-in');
      const waitMs = this.options.standInWaitMs ?? 0;
      if (attempt >= 3 || waitMs <= 0 || !(await this.node.awaitViewAfter(epoch, waitMs, signal))) {
        throw s3Error('ServiceUnavailable', 'The node that owns this key cannot be reached and the cluster has not agreed on a ring without it yet; retry.');
      }
    }
  }

  /** Forwards, redirects or serves an object request by the current ring. */
  private async routeObject(request: FastifyRequest, reply: FastifyReply, endpoint: Endpoint & { bucket: string; key: string }, signal: AbortSignal): Promise<RouteDecision> {
    const owners = this.node.owners(endpoint.bucket, endpoint.key, this.options.ownersTried);
    const self = this.node.self.id;
    if (owners.length === 0) return UNCACHED;
    if (owners[0].id === self) {
      this.metrics.clusterRouted.labels('local').inc();
      return OWNER;
    }
    if (this.options.mode === 'redirect' && isRead(request.method)) {
      const target = owners.find((m) => !this.node.isSuspect(m.id)) ?? owners[0];
      if (target.id === self) return this.failover(owners, owners.indexOf(target));
      this.metrics.clusterRouted.labels('redirected').inc();
      await reply.code(307).header('location', redirectLocation(target, endpoint.bucket, endpoint.key, request.raw.url ?? '/')).send();
      return { kind: 'handled' };
    }
    // Reads may be served by a successor (uncached); writes only by the owner itself.
    const candidates = isRead(request.method) ? owners : owners.slice(0, 1);
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i];
      if (candidate.id === self) return this.failover(owners, i);
      // A suspect owner (reads go on to the next), or one that has not yet heard of writes served
      // for it while it was away.
      if ((this.node.isSuspect(candidate.id) && isRead(request.method)) || this.options.owesInvalidations(candidate.id)) continue;
      const outcome = await this.forwarder.forward(request, reply, candidate, signal);
      if (outcome.kind === 'answered') {
        this.metrics.clusterRouted.labels('forwarded').inc();
        return { kind: 'handled' };
      }
      // Nothing of the request reached the owner (its body is untouched). Only an owner that
      // refused, stalled or reset a fresh connection is blamed. A write it missed is owed to it:
      // this node sends it no requests for the key's owner until told.
      if (!isRead(request.method)) this.options.writeMissed(endpoint.bucket, endpoint.key, candidate.id);
      if (outcome.suspect) {
        this.node.markSuspect(candidate.id);
        // Not for an owner that left the view while the hop was in flight: its series is gone for good.
        if (this.node.member(candidate.id)) this.metrics.clusterForwardFailures.labels(candidate.id).inc();
      }
      request.log.warn({ peer: candidate.id, reason: outcome.reason, suspect: outcome.suspect }, 'owner did not take the request; trying the next owner');
    }
    this.metrics.clusterRouted.labels('uncached').inc();
    return { kind: 'uncached', ownersAhead: owners.filter((m) => m.id !== self) };
  }

  /**
   * Ownership by agreement, for a request this node serves: a read is served from the cache only
   * by the settled owner holding its lease, otherwise from the store without keeping anything (or
   * 503 on a node without a lease, by configuration); a write only by the owner holding its lease,
   * once the key's fence has passed.
   */
  private async settle(method: string, bucket: string, key: string, placement: Placement, signal: AbortSignal): Promise<Placement> {
    if (isRead(method)) {
      if (placement.kind !== 'owner' || this.node.ownsKey(bucket, key)) return placement;
      if (this.options.onLoss === 'unavailable' && !this.node.leaseValid()) {
        this.node.fenced('no-lease');
        throw s3Error('ServiceUnavailable', 'This node cannot reach a quorum of its cluster; retry, or use another node.');
      }
      return UNCACHED;
    }
    if (placement.kind !== 'owner') {
      this.node.fenced('stand-in');
      throw s3Error('ServiceUnavailable', 'This node does not own the key in the agreed ring and the owner could not be reached; retry.');
    }
    try {
      await this.node.whenWritable(bucket, key, signal);
    } catch (err) {
      if (isClusterError(err)) throw s3Error('ServiceUnavailable', `${err.message}; retry.`, err);
      throw err;
    }
    return placement;
  }

  /** A peer's request is served under the ring version it was stamped with, or refused (503, retryable). */
  private async admitEpoch(request: FastifyRequest, from: string, signal: AbortSignal): Promise<void> {
    const stamp = request.headers[EPOCH_HEADER];
    // Absent: a job peer query relayed with the client's headers, or a node from before ring versions.
    if (typeof stamp !== 'string' || !/^\d+(\.[0-9a-f]*)?$/.test(stamp)) return;
    const verdict = await this.node.admitEpoch(stamp, from, CATCH_UP_MS, signal);
    if (verdict === 'stale') throw s3Error('ServiceUnavailable', 'The forwarding node used an older ring version; retry.');
    if (verdict === 'behind') throw s3Error('ServiceUnavailable', 'The request names a newer ring version than this node could learn; retry.');
  }

  private failover(owners: MemberInfo[], selfIndex: number): Placement {
    this.metrics.clusterRouted.labels('failover').inc();
    return { kind: 'failover', ownersAhead: owners.slice(0, selfIndex) };
  }
}
