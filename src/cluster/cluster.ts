/**
 * Puts the cluster together from the configuration: this node's identity, its membership
 * source (static peers or Consul), the ring, TLS and hop markers between nodes, the forwarder
 * and the peer client, routing, invalidation relay, bucket changes, warm hand-off, job records
 * and the preload dispatcher. With no peers and no Consul it is one node by itself: every key is
 * local and nothing is forwarded.
 */
import os from 'node:os';
import type { Metrics } from '../admin/metrics';
import type { NodeCache } from '../cache/open-cache';
import { ConfigError } from '../config/load-config';
import type { RingcacheConfig } from '../config/schema';
import type { LoadDispatcher } from '../jobs/load-dispatcher';
import type { BucketRegistry } from '../mounts/bucket-registry';
import { BucketChanges } from './bucket-changes';
import { ClusterLoadDispatcher } from './cluster-dispatcher';
import { ClusterNode } from './cluster-node';
import { Forwarder } from './forwarder';
import { InvalidationRelay } from './invalidation-relay';
import { ClusterJobPeers } from './job-peers';
import { JobReplication } from './job-replication';
import { MemberFanout } from './member-fanout';
import type { MemberInfo, Membership } from './membership';
import { createMembership } from './membership-source';
import { loadNodeTls, type NodeTls } from './node-tls';
import { HopSigner, HopVerifier } from './peer-auth';
import { readPeersFile, watchPeersFile } from './peers-file';
import { StaticMembership, type AgreementTransport } from './static-membership';
import type { HeartbeatAnswer, ProposeAnswer } from './view-agreement';
import { PeerClient } from './peer-client';
import { RequestRouter, type Placement } from './request-router';

export interface Cluster {
  node: ClusterNode;
  router: RequestRouter;
  dispatcher: LoadDispatcher;
  tls: NodeTls;
  signer: HopSigner | undefined;
  verifier: HopVerifier;
  /** Job records shared with the other nodes (every node can show any job; another node takes over a job whose coordinator is gone). */
  jobs: JobReplication;
  /** Keys changed on this node that other nodes may own (multi-object delete): their owners are told before this resolves (1 s at most). */
  tellOwners(bucket: string, keys: readonly string[]): Promise<void>;
  /** A write this node served in place of owners that were down (`placement`): they are told, in the background, to forget the key. */
  wroteInPlaceOfOwners(placement: Placement, bucket: string, key: string): void;
  /** Jobs coordinated by other nodes (absent on a node by itself). */
  jobPeers?: ClusterJobPeers;
  /** Asks every other member the same signed admin request (absent on a node by itself). */
  members?: MemberFanout;
  /** False until start() completed in a multi-node setup: health checks answer 503 meanwhile. */
  ready(): boolean;
  membership: Membership;
  /** Static peers: the agreement endpoints and the peer list (admin API). */
  agreement?: StaticMembership;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** This node's id and URL: configured, or derived from the host name and the listening port. */
function selfMember(config: RingcacheConfig, port = config.server.port): MemberInfo {
  const { host } = config.server;
  const advertisedHost = host === '0.0.0.0' || host === '::' ? os.hostname() : host.includes(':') ? `[${host}]` : host;
  const scheme = config.server.tls ? 'https' : 'http';
  return {
    id: config.cluster.nodeId ?? `${os.hostname()}-${port}`,
    url: config.cluster.advertiseUrl ?? `${scheme}://${advertisedHost}:${port}`,
  };
}

function peersFromFile(file: string): MemberInfo[] {
  try {
    return readPeersFile(file);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

export function createCluster(deps: { config: RingcacheConfig; metrics: Metrics; log: Log; buckets: BucketRegistry; cache?: NodeCache; tls?: NodeTls }): Cluster {
  const { config, metrics, log, buckets, cache } = deps;
  const settings = config.cluster;
  const self = selfMember(config);
  // A peers file gives the initial list (and is watched once the node runs).
  const configuredPeers = settings.peersFile ? peersFromFile(settings.peersFile) : settings.peers;
  const others = configuredPeers.filter((p) => p.id !== self.id);
  if ((others.length > 0 || settings.consul || settings.etcd) && settings.secret === undefined) {
    throw new ConfigError('cluster.secret (or RINGCACHE_CLUSTER_SECRET) is required when the cluster has peers or uses Consul or etcd');
  }
  const tls = deps.tls ?? loadNodeTls(config);
  if (settings.consul && settings.etcd) throw new ConfigError('cluster.consul and cluster.etcd exclude each other: choose one membership source');
  const clustered = others.length > 0 || settings.consul !== undefined || settings.etcd !== undefined;
  let started = false;
  // Metadata saved before this process started (a crash, a restart) may be out of date: the
  // cluster may have changed objects meanwhile. Revalidate all of it (pages stay usable).
  if (clustered) cache?.shared.metadata.expireBefore(Date.now());
  const clock = (): number => performance.now();
  // The node is made after the peer client and the membership, which ask it for its epoch.
  const ref: { node?: ClusterNode } = {};
  const signer = settings.secret === undefined ? undefined : new HopSigner(self.id, settings.secret);
  const verifier = new HopVerifier(self.id, settings.secret);
  const peers = new PeerClient({
    signer,
    verifier,
    connectTimeoutMs: settings.forward.connectTimeoutMs,
    headersTimeoutMs: settings.forward.headersTimeoutMs,
    tls: tls.peers,
    epoch: () => ref.node?.epoch ?? 0,
    stamp: () => ref.node?.stamp ?? '0.',
    heardOf: (epoch, from) => ref.node?.heardOf(epoch, from),
  });
  const transport: AgreementTransport = {
    heartbeat: (peer, request, timeoutMs) => peers.postJson<HeartbeatAnswer>(peer, 'agreement', '/heartbeat', request, undefined, timeoutMs),
    propose: (peer, proposal, timeoutMs) => peers.postJson<ProposeAnswer>(peer, 'agreement', '/propose', proposal, undefined, timeoutMs),
    commit: async (peer, view, timeoutMs) => {
      await peers.postJson<unknown>(peer, 'agreement', '/commit', view, undefined, timeoutMs);
    },
  };
  const membership = createMembership({ ...config, cluster: { ...settings, peers: configuredPeers } }, self, log, transport, clock);
  let stopWatchingPeers: (() => void) | undefined;
  const node = new ClusterNode({
    self,
    membership,
    suspectMs: settings.suspectSeconds * 1000,
    handoffWindowMs: settings.handoff.windowSeconds * 1000,
    fenceMarginMs: settings.lease.marginMs,
    cacheGraceMs: settings.lease.cacheGraceMs,
    metrics,
    log,
    clock,
    solo: !clustered,
  });
  ref.node = node;
  const forwarder = new Forwarder(signer, {
    ...settings.forward,
    tls: tls.peers,
    stamp: () => node.stamp,
    answered: (owner, headers) => peers.noteEpoch(owner, headers),
  });
  const relay = new InvalidationRelay(node, peers, metrics, settings.handoff.windowSeconds * 1000);
  const router = new RequestRouter(
    node,
    forwarder,
    {
      verifier,
      tls,
      owesInvalidations: (id) => relay.owes(id),
      writeMissed: (bucket, key, owner) => relay.tellLater(bucket, [key], [owner]),
      mode: settings.routing,
      ownersTried: 2,
      standInWaitMs: settings.lease.standInWaitMs,
      onLoss: settings.quorum.onLoss,
    },
    metrics,
  );
  const bucketChanges = new BucketChanges(node, peers, log);
  buckets.onChange((bucket, change) => bucketChanges.announce(bucket, change));
  const jobs = new JobReplication(node, peers, log, clustered);

  node.onRingChange(() => {
    relay.retryNow();
    jobs.membersChanged();
    // The per-peer failure counter keeps labels of current members only.
    void metrics.clusterForwardFailures.get().then((current) => {
      for (const { labels } of current.values) if (typeof labels.peer === 'string' && !node.member(labels.peer)) metrics.clusterForwardFailures.remove(labels.peer);
    });
  });

  if (cache) {
    // Ownership by agreement: cached metadata is trusted only while this node owned its key
    // without a break since it was fetched (cluster-node.ts); a ring change expires nothing else.
    if (clustered) {
      cache.shared.ownership = {
        recordSeq: (bucket, key) => node.recordSeq(bucket, key),
        trusts: (bucket, key, seq, memo) => node.trusts(bucket, key, seq, memo),
      };
    }
    if (settings.handoff.enabled) {
      cache.shared.peerPages = {
        mayHave: (bucket, key) => node.previousOwner(bucket, key) !== undefined,
        async fetch({ bucket, key, pageKey, length }) {
          const previous = node.previousOwner(bucket, key);
          if (!previous) return undefined;
          try {
            const page = await peers.page(previous, pageKey, length, settings.handoff.timeoutMs);
            metrics.clusterHandoffPages.labels(page ? 'hit' : 'miss').inc();
            return page;
          } catch {
            metrics.clusterHandoffPages.labels('error').inc();
            return undefined;
          }
        },
      };
    }
  }

  return {
    node,
    router,
    tls,
    signer,
    verifier,
    jobs,
    dispatcher: new ClusterLoadDispatcher(node, peers, buckets),
    wroteInPlaceOfOwners(placement, bucket, key) {
      if (placement.kind !== 'owner') relay.tellLater(bucket, [key], placement.ownersAhead.map((m) => m.id));
    },
    async tellOwners(bucket, keys) {
      if (node.size === 1) return;
      const byOwner = new Map<string, string[]>();
      for (const key of keys) {
        const owner = node.owners(bucket, key, 1)[0]?.id;
        if (owner !== undefined && owner !== self.id) byOwner.set(owner, [...(byOwner.get(owner) ?? []), key]);
      }
      await Promise.all([...byOwner].map(([owner, owned]) => relay.tellNow(bucket, owned, [owner])));
    },
    ready: () => !clustered || started,
    membership,
    agreement: membership instanceof StaticMembership ? membership : undefined,
    jobPeers: clustered ? new ClusterJobPeers(node, peers) : undefined,
    members: clustered ? new MemberFanout(node, peers) : undefined,
    async start() {
      await node.start();
      // Job records of the others before this node judges any lease (it may have been away while one was taken over).
      await jobs.start();
      if (settings.peersFile && membership instanceof StaticMembership) {
        const file = settings.peersFile;
        stopWatchingPeers = watchPeersFile(file, () => membership.peers().members, (peers) => membership.setPeers(peers), log);
      }
      started = true;
    },
    async stop() {
      stopWatchingPeers?.();
      relay.stop();
      jobs.stop();
      await node.stop();
      await Promise.all([peers.close(), forwarder.close()]);
    },
  };
}
