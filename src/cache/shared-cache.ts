/**
 * What the caches of every bucket on this node share: the pages, the metadata cache, the page
 * fills in flight, the admission counts, the metrics; and the cluster's hooks into them.
 */
import type { Metrics } from '../admin/metrics';
import type { MetadataCache } from './metadata-cache';
import type { PageFills } from './page-fill';
import type { PageStash } from './page-stash';
import type { AdmissionGate } from './policy/admission-gate';
import type { PageStore } from './types';

/** Pages another node may hold: the key's previous owner, for a while after a ring change (warm hand-off). */
export interface PeerPageSource {
  /** Whether a previous owner of the key may hold its pages. */
  mayHave(bucket: string, key: string): boolean;
  /** The page from the previous owner; undefined when it does not have it. Never rejects. */
  fetch(request: { bucket: string; key: string; pageKey: string; length: number }): Promise<Buffer | undefined>;
}

/**
 * In a cluster: whether this node may cache and serve a key's metadata (ownership by agreement,
 * cluster/cluster-node.ts). Absent for a node by itself, which owns every key.
 */
export interface OwnershipOracle {
  /** The ownership record an answer fetched now is kept under; undefined: do not keep it (not the settled owner now). */
  recordSeq(bucket: string, key: string): number | undefined;
  /** Whether an entry kept under record `seq` may be served now (this node owned the key without a break since). `memo` is the entry. */
  trusts(bucket: string, key: string, seq: number | undefined, memo: { verifiedSeq?: number }): boolean;
}

export interface SharedCache {
  pages: PageStore;
  /** Set by the cluster when it runs: decides which cached metadata this node may trust. */
  ownership?: OwnershipOracle;
  /** Set by the cluster when it runs; consulted on a page miss before the store. */
  peerPages?: PeerPageSource;
  metadata: MetadataCache;
  pageFills: PageFills;
  /** Counts reads per object for the mounts' minUses rules (one per node). */
  admission?: AdmissionGate;
  /** First pages fetched with the metadata but refused by the admission rules, for the read that follows. */
  unkept?: PageStash;
  metrics: Metrics;
}
