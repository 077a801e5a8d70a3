/**
 * This node's view of the cluster: the current ring (rebuilt whole from the healthy member
 * set whenever membership reports a change), the ring before it (for warm hand-off), and the
 * members that recently failed a request (suspects, skipped for a while without waiting for
 * membership to notice).
 */
import type { Metrics } from '../admin/metrics';
import { byId, type MemberInfo, type Membership } from './membership';
import { buildRing, hash32, type Ring } from './ring';
import { RingShares } from './ring-shares';

export interface ClusterNodeOptions {
  self: MemberInfo;
  membership: Membership;
  suspectMs: number;
  /** How long after a change the previous ring is consulted for hand-off. */
  handoffWindowMs: number;
  metrics: Metrics;
  log: { info(obj: object, msg: string): void };
  now?: () => number;
}

/** One member as the ring view (admin API, ring-aware clients) shows it. */
export interface MemberView {
  id: string;
  url: string;
  self: boolean;
  /** Failed a forwarded request recently: skipped until `suspectUntil`. */
  suspect: boolean;
  /** Fraction of the key space it owns (sampled). */
  share: number;
}

export interface RingView {
  self: string;
  /** Membership does not list this node (its Consul check lapsed): it forwards everything and owns nothing. */
  detached: boolean;
  /** Changes whenever the member set (ids or URLs) changes; clients compare it to refresh. */
  version: string;
  changedAt: string;
  members: MemberView[];
}

/** The ring key of an object: bucket and key, the same on every node. */
export const ringKey = (bucket: string, key: string): string => `${bucket}/${key}`;

export class ClusterNode {
  readonly self: MemberInfo;
  private ring: Ring;
  private byIdMap = new Map<string, MemberInfo>();
  private previous: { ring: Ring; until: number } | undefined;
  private readonly suspects = new Map<string, number>();
  private readonly listeners = new Set<(changedAt: number) => void>();
  private versionTag = '';
  private changedAt: number;
  private shares: RingShares | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Set once membership reported a first member set. */
  private joined = false;
  private detachedFlag = false;
  private readonly now: () => number;

  constructor(private readonly options: ClusterNodeOptions) {
    this.self = options.self;
    this.now = options.now ?? Date.now;
    this.changedAt = this.now();
    this.ring = buildRing([]);
    this.apply([options.self], false);
  }

  /** Starts membership; the ring follows it from then on. */
  async start(): Promise<void> {
    await this.options.membership.start();
    this.apply(this.options.membership.members(), true);
    this.unsubscribe = this.options.membership.onChange((members) => this.apply(members, true));
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.shares?.cancel();
    await this.options.membership.stop();
  }

  /** Called after every ring change with its time (the cache expires metadata older than it). */
  onRingChange(listener: (changedAt: number) => void): void {
    this.listeners.add(listener);
  }

  get size(): number {
    return this.ring.members.length;
  }

  get version(): string {
    return this.versionTag;
  }

  member(id: string): MemberInfo | undefined {
    return this.byIdMap.get(id);
  }

  /** The owner of an object and its successors, best first (at most `n`). */
  owners(bucket: string, key: string, n = 3): MemberInfo[] {
    return this.ring.owners(ringKey(bucket, key), n).map((id) => this.byIdMap.get(id) as MemberInfo);
  }

  /** Whether this node owns the object in the current ring (one node by itself owns everything). */
  ownsKey(bucket: string, key: string): boolean {
    return this.ring.members.length === 1 ? this.ring.members[0] === this.self.id : this.ring.owner(ringKey(bucket, key)) === this.self.id;
  }

  /** The first owner that is not suspect (the owner itself when all are). */
  preferredOwner(bucket: string, key: string): MemberInfo {
    const owners = this.owners(bucket, key);
    return owners.find((m) => !this.isSuspect(m.id)) ?? owners[0];
  }

  /** Who owned the object before the last ring change, if that was recent, it was someone else and it is still a member. */
  previousOwner(bucket: string, key: string): MemberInfo | undefined {
    if (!this.previous || this.now() > this.previous.until) return undefined;
    const id = this.previous.ring.owner(ringKey(bucket, key));
    if (id === undefined || id === this.self.id || this.ring.owner(ringKey(bucket, key)) === id) return undefined;
    const member = this.byIdMap.get(id);
    return member && !this.isSuspect(id) ? member : undefined;
  }

  isSuspect(id: string): boolean {
    const until = this.suspects.get(id);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.suspects.delete(id);
    return false;
  }

  markSuspect(id: string): void {
    if (id !== this.self.id) this.suspects.set(id, this.now() + this.options.suspectMs);
  }

  view(): RingView {
    return {
      self: this.self.id,
      detached: this.detachedFlag,
      version: this.versionTag,
      changedAt: new Date(this.changedAt).toISOString(),
      members: this.ring.members.map((id) => {
        const member = this.byIdMap.get(id) as MemberInfo;
        return { id, url: member.url, self: id === this.self.id, suspect: this.isSuspect(id), share: this.shares?.shareOf(id) ?? 0 };
      }),
    };
  }

  private apply(reported: readonly MemberInfo[], notify: boolean): void {
    // A source that lists other nodes but not this one (a lapsed Consul check, a one-sided
    // partition) means the others route this node's keys elsewhere: it must own nothing, or
    // it would serve what their writes no longer invalidate. Alone, it owns everything.
    const others = reported.filter((m) => m.id !== this.self.id);
    const detached = others.length > 0 && others.length === reported.length;
    const members = (detached ? others : [this.self, ...others]).sort(byId);
    if (detached !== this.detachedFlag) this.options.log.info({ detached }, detached ? 'membership does not list this node: owning no keys' : 'this node is a member again');
    this.detachedFlag = detached;
    const version = hash32(members.map((m) => `${m.id}=${m.url}`).join('\n')).toString(16).padStart(8, '0');
    if (version === this.versionTag) return;
    // A node that just (re)started has no ring of its own before this one: while it was away
    // the others used the ring without it, so that is whom it asks for pages.
    const old = this.joined ? this.ring : buildRing(members.filter((m) => m.id !== this.self.id).map((m) => m.id));
    if (notify) this.joined = true;
    this.ring = buildRing(members.map((m) => m.id));
    this.byIdMap = new Map(members.map((m) => [m.id, m]));
    this.versionTag = version;
    this.changedAt = this.now();
    if (notify) this.previous = { ring: old, until: this.changedAt + this.options.handoffWindowMs };
    for (const id of this.suspects.keys()) if (!this.byIdMap.has(id)) this.suspects.delete(id);
    this.shares?.cancel();
    this.shares = new RingShares(this.ring);
    this.options.metrics.clusterMembers.set(members.length);
    if (!notify) return;
    this.options.metrics.clusterRingChanges.inc();
    this.options.log.info({ members: members.map((m) => m.id), version }, 'ring rebuilt');
    for (const listener of this.listeners) listener(this.changedAt);
  }
}
