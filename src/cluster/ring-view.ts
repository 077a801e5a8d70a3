/** The ring as this node shows it (admin API, ring-aware clients, the dashboard): built by ClusterNode.view(). */

/** One member as the ring view (admin API, ring-aware clients) shows it. */
export interface MemberView {
  id: string;
  url: string;
  self: boolean;
  /** Failed a forwarded request recently: skipped for a while (cluster suspectMs). */
  suspect: boolean;
  /** Fraction of the key space it owns (sampled). */
  share: number;
}

export interface RingView {
  self: string;
  /** The agreed view does not list this node: it forwards everything and owns nothing. */
  detached: boolean;
  /** The agreed ring version (epoch) as a string; every response carries it (x-ringcache-ring). */
  version: string;
  epoch: number;
  /** This node holds its ownership lease (it may serve the keys it owns from its cache). */
  lease: boolean;
  /** Milliseconds the lease still holds without a new confirmation. */
  leaseRemainingMs: number;
  /** Milliseconds until every key this node owns is settled (writable and cached); 0 when settled. */
  settlingMs: number;
  changedAt: string;
  members: MemberView[];
}
