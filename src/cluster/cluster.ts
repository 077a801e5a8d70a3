/**
 * Puts the cluster together from the configuration: this node's identity, its membership
 * source (static peers or Consul), the ring, TLS and hop markers between nodes, the forwarder
 * and the peer client, routing, invalidation relay, bucket changes, warm hand-off, job records
 * and the preload dispatcher. With no peers and no Consul it is one node by itself: every key is
 * local and nothing is forwarded.
 */
import os from 'node:os';
import { Agent } from 'undici';
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
import { JobPeers } from './job-peers';
import { JobReplication } from './job-replication';
import { MemberFanout } from './member-fanout';
import type { MemberInfo } from './membership';
import { createMembership } from './membership-source';
import { loadNodeTls, type NodeTls } from './node-tls';
import { HopSigner, HopVerifier } from './peer-auth';
import { PeerClient } from './peer-client';
import { RequestRouter } from './request-router';

export interface Cluster {
  node: ClusterNode;
  router: RequestRouter;
  relay: InvalidationRelay;
  dispatcher: LoadDispatcher;
  tls: NodeTls;
  signer: HopSigner | undefined;
  verifier: HopVerifier;
  /** Job records shared with the other nodes (every node can show any job; another node takes over a job whose coordinator is gone). */
  jobs: JobReplication;
  /** Keys changed on this node that other nodes may own (multi-object delete): their owners are told before this resolves (1 s at most). */
  keysChanged(bucket: string, keys: readonly string[]): Promise<void>;
  /** Jobs coordinated by other nodes (absent on a node by itself). */
  jobsElsewhere?: JobPeers;
  /** Asks every other member the same signed admin request (absent on a node by itself). */
  members?: MemberFanout;
  /** False until start() completed in a multi-node setup: health checks answer 503 meanwhile. */
  ready(): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** This node's id and URL: configured, or derived from the host name and the listening port. */
export function selfMember(config: RingcacheConfig, port = config.server.port): MemberInfo {
  const { host } = config.server;
  const advertisedHost = host === '0.0.0.0' || host === '::' ? os.hostname() : host.includes(':') ? `[${host}]` : host;
  const scheme = config.server.tls ? 'https' : 'http';
  return {
    id: config.cluster.nodeId ?? `${os.hostname()}-${port}`,
    url: config.cluster.advertiseUrl ?? `${scheme}://${advertisedHost}:${port}`,
  };
}

export function createCluster(deps: { config: RingcacheConfig; metrics: Metrics; log: Log; buckets: BucketRegistry; cache?: NodeCache; tls?: NodeTls }): Cluster {
  const { config, metrics, log, buckets, cache } = deps;
  const settings = config.cluster;
  const self = selfMember(config);
  const others = settings.peers.filter((p) => p.id !== self.id);
  if ((others.length > 0 || settings.consul) && settings.secret === undefined) {
    throw new ConfigError('cluster.secret (or RINGCACHE_CLUSTER_SECRET) is required when the cluster has peers or uses Consul');
  }
  const tls = deps.tls ?? loadNodeTls(config);
  const clustered = others.length > 0 || settings.consul !== undefined;
  let started = false;
  // Metadata saved before this process started (a crash, a restart) may be out of date: the
  // cluster may have changed objects meanwhile. Revalidate all of it (pages stay usable).
  if (clustered) cache?.shared.metadata.expireBefore(Date.now());
  // Health probes of static peers over https:// verify the peers' certificates like every other call.
  const probes = tls.peers.ca || tls.peers.cert ? new Agent({ connect: { ...tls.peers } }) : undefined;
  const membership = createMembership(config, self, log, probes);
  const node = new ClusterNode({
    self,
    membership,
    suspectMs: settings.suspectSeconds * 1000,
    handoffWindowMs: settings.handoff.windowSeconds * 1000,
    metrics,
    log,
  });
  const signer = settings.secret === undefined ? undefined : new HopSigner(self.id, settings.secret);
  const verifier = new HopVerifier(self.id, settings.secret);
  const peers = new PeerClient({ signer, verifier, connectTimeoutMs: settings.forward.connectTimeoutMs, headersTimeoutMs: settings.forward.headersTimeoutMs, tls: tls.peers });
  const forwarder = new Forwarder(signer, { ...settings.forward, tls: tls.peers });
  const relay = new InvalidationRelay(node, peers, metrics, settings.handoff.windowSeconds * 1000);
  const router = new RequestRouter(
    node,
    forwarder,
    { verifier, tls, owesInvalidations: (id) => relay.owes(id), writeMissed: (bucket, key, owner) => relay.relay(bucket, [key], [owner]), mode: settings.routing, ownersTried: 2 },
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
    // A node that was away (or whose keys moved) must not trust metadata from before the change.
    node.onRingChange((changedAt) => cache.shared.metadata.expireBefore(changedAt));
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
    relay,
    tls,
    signer,
    verifier,
    jobs,
    dispatcher: new ClusterLoadDispatcher(node, peers, buckets),
    async keysChanged(bucket, keys) {
      if (node.size === 1) return;
      const byOwner = new Map<string, string[]>();
      for (const key of keys) {
        const owner = node.owners(bucket, key, 1)[0]?.id;
        if (owner !== undefined && owner !== self.id) byOwner.set(owner, [...(byOwner.get(owner) ?? []), key]);
      }
      await Promise.all([...byOwner].map(([owner, owned]) => relay.deliver(bucket, owned, [owner])));
    },
    ready: () => !clustered || started,
    jobsElsewhere: clustered ? new JobPeers(node, peers) : undefined,
    members: clustered ? new MemberFanout(node, peers) : undefined,
    async start() {
      await node.start();
      // Job records of the others before this node judges any lease (it may have been away while one was taken over).
      await jobs.start();
      started = true;
    },
    async stop() {
      relay.stop();
      jobs.stop();
      await node.stop();
      await Promise.all([peers.close(), forwarder.close(), probes?.close()]);
    },
  };
}
