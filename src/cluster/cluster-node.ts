/**
 * This node's view of the cluster: the agreed view (epoch and members) membership last
 * reported, the ring built from it, the history of rings held (ownership-history.ts), the ring
 * before the last change (warm hand-off), and the members that recently failed a request
 * (suspects, skipped for a while without waiting for membership to notice).
 *
 * Ownership by agreement: this node treats a key as its own only while
 *   - it holds its lease (membership confirmed the view recently enough, lease.ts), and
 *   - the agreed view's ring names it the key's owner.
 * A key it gained in a recent view is fenced: writes wait until every lease of an older view
 * has ended (`fenceMs` after the run of ownership began), and its metadata is not cached for a
 * further `cacheGraceMs` (a write the previous owner began under its lease may still commit).
 * Cached metadata is trusted only if this node owned the key without a break since it was
 * fetched (`trusts`); other keys are never revalidated because of a ring change.
 */
import type { Metrics } from '../admin/metrics';
import { consistencyMetrics, type ConsistencyMetrics, type FenceReason } from './consistency-metrics';
import { ClusterError } from './cluster-errors';
import { NO_VIEW, type AgreedView, type MemberInfo, type Membership } from './membership';
import { OwnershipHistory } from './ownership-history';
import { buildRing, hash32, type Ring } from './ring';
import { RingShares } from './ring-shares';
import type { RingView } from './ring-view';
import { Suspects } from './suspects';
import { ViewWaiters } from './view-waiters';
import { abortableSleep } from '../util/abortable-sleep';

interface ClusterNodeOptions {
  self: MemberInfo;
  membership: Membership;
  suspectMs: number;
  /** How long after a change the previous ring is consulted for hand-off. */
  handoffWindowMs: number;
  /** Added to the membership's lease length for the fence (clock rates, scheduling). */
  fenceMarginMs: number;
  /** After the fence, gained keys are served from the store without caching for this long more. */
  cacheGraceMs: number;
  metrics: Metrics;
  log: { info(obj: object, msg: string): void; warn?(obj: object, msg: string): void };
  /** Wall clock (ms), for what is shown. */
  now?: () => number;
  /** Monotonic clock (ms), for leases and fences. */
  clock?: () => number;
  /** A node by itself: owns every key, always (no lease, no fence). */
  solo?: boolean;
}

/** Where a key stands for this node now. Times are on the monotonic clock. */
type Ownership = { kind: 'none'; reason: 'no-lease' | 'not-owner' } | { kind: 'owner'; writableAt: number; cacheableAt: number };

/** The ring key of an object: bucket and key, the same on every node. */
export const ringKey = (bucket: string, key: string): string => `${bucket}/${key}`;

/** The cache's memo of how far an entry's ownership was verified (see trusts). */
interface VerifiedMemo {
  verifiedSeq?: number;
}

export class ClusterNode {
  readonly self: MemberInfo;
  readonly metrics: ConsistencyMetrics;
  private agreed: AgreedView = NO_VIEW;
  private ring: Ring;
  private byIdMap = new Map<string, MemberInfo>();
  private previous: { ring: Ring; until: number } | undefined;
  private readonly suspects: Suspects;
  private readonly viewWaiters = new ViewWaiters();
  private readonly ringListeners = new Set<(changedAt: number) => void>();
  private changedAt: number;
  private shares: RingShares | undefined;
  private unsubscribe: (() => void) | undefined;
  private detachedFlag = false;
  private readonly now: () => number;
  private readonly clock: () => number;
  private readonly history: OwnershipHistory;
  private seenLapses = 0;
  /** Hash of the members (ids and URLs) of the agreed view: two views with the same tag are the same ring. */
  private ringTag = '';

  constructor(private readonly options: ClusterNodeOptions) {
    this.self = options.self;
    this.now = options.now ?? Date.now;
    this.clock = options.clock ?? (() => performance.now());
    this.suspects = new Suspects(options.self.id, options.suspectMs, this.now);
    this.changedAt = this.now();
    this.ring = buildRing([]);
    // Sequence numbers start from the wall clock: larger than any an earlier process gave out.
    this.history = new OwnershipHistory(options.self.id, this.now() * 1024, this.clock());
    this.metrics = consistencyMetrics(options.metrics, { epoch: () => this.agreed.epoch, leaseValid: () => this.leaseValid() });
    if (options.solo) this.apply({ epoch: 1, members: [options.self] }, false);
  }

  /** Starts membership; the ring follows the agreed view from then on. */
  async start(): Promise<void> {
    this.unsubscribe = this.options.membership.onView((view) => this.apply(view, true));
    await this.options.membership.start();
    this.apply(this.options.membership.view(), true);
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.shares?.cancel();
    await this.options.membership.stop();
    this.viewWaiters.wakeAll();
  }

  /**
   * Called after every change of the agreed ring with its time (the invalidation relay retries,
   * job records go to new members, failure metrics of members gone are dropped). Ownership does
   * not depend on it: see trusts.
   */
  onRingChange(listener: (changedAt: number) => void): void {
    this.ringListeners.add(listener);
  }

  get size(): number {
    return this.ring.members.length;
  }

  get epoch(): number {
    return this.agreed.epoch;
  }

  /** The ring version every response carries (the epoch). */
  get version(): string {
    return String(this.agreed.epoch);
  }

  /**
   * What requests between nodes carry (x-ringcache-epoch): the epoch and the ring's tag. Views of
   * the same members are the same ring whatever their epochs (Consul nodes may number the same
   * member set differently until they hear of each other's epochs).
   */
  get stamp(): string {
    return `${this.agreed.epoch}.${this.ringTag}`;
  }

  /** Milliseconds a node that gains a key waits before it takes writes of it. */
  get fenceMs(): number {
    return this.options.membership.leaseMs + this.options.fenceMarginMs;
  }

  member(id: string): MemberInfo | undefined {
    return this.byIdMap.get(id);
  }

  /** The owner of an object and its successors, best first (at most `n`). */
  owners(bucket: string, key: string, n = 3): MemberInfo[] {
    return this.ring.owners(ringKey(bucket, key), n).map((id) => this.byIdMap.get(id) as MemberInfo);
  }

  /** Whether this node holds its ownership lease now. */
  leaseValid(): boolean {
    return this.options.solo === true || this.syncLease(this.clock());
  }

  /** Where `key` stands for this node now (see Ownership). */
  ownership(bucket: string, key: string): Ownership {
    if (this.options.solo) return { kind: 'owner', writableAt: 0, cacheableAt: 0 };
    const now = this.clock();
    if (!this.syncLease(now)) return { kind: 'none', reason: 'no-lease' };
    const rk = ringKey(bucket, key);
    if (this.ring.owner(rk) !== this.self.id) return { kind: 'none', reason: 'not-owner' };
    const fence = this.fenceMs;
    const settledAll = this.history.current.at + fence + this.options.cacheGraceMs;
    if (now >= settledAll) return { kind: 'owner', writableAt: 0, cacheableAt: 0 };
    const since = this.history.ownedSince(rk) ?? now;
    return { kind: 'owner', writableAt: since + fence, cacheableAt: since + fence + this.options.cacheGraceMs };
  }

  /** Whether this node may answer `key` from its cache now: the agreed owner, with its lease, past the fence and grace. */
  ownsKey(bucket: string, key: string): boolean {
    const o = this.ownership(bucket, key);
    return o.kind === 'owner' && this.clock() >= o.cacheableAt;
  }

  /** The ownership record an answer fetched now may be cached under; undefined: do not cache it. */
  recordSeq(bucket: string, key: string): number | undefined {
    return this.ownsKey(bucket, key) ? this.history.current.seq : undefined;
  }

  /**
   * Whether metadata of `key` cached under record `seq` may be served: this node holds its lease
   * and owned the key in every record since. `memo` (the cache entry) remembers how far that was
   * verified, so a warm read checks one ring, not the whole history.
   */
  trusts(bucket: string, key: string, seq: number | undefined, memo?: VerifiedMemo): boolean {
    if (this.options.solo) return true;
    if (seq === undefined || !this.syncLease(this.clock())) return false;
    const rk = ringKey(bucket, key);
    const current = this.history.current.seq;
    if (memo?.verifiedSeq === current) return true;
    const from = memo?.verifiedSeq !== undefined && memo.verifiedSeq > seq ? memo.verifiedSeq : seq;
    if (!this.history.continuous(rk, from)) {
      this.metrics.revalidated();
      return false;
    }
    if (memo) memo.verifiedSeq = current;
    return true;
  }

  /**
   * Resolves when this node may take a write of `key`: it is the agreed owner with its lease and
   * the key's fence has passed (waiting for it, at most the fence). Throws a ClusterError otherwise.
   */
  async whenWritable(bucket: string, key: string, signal: AbortSignal): Promise<void> {
    // A lease about to be granted (a view just agreed, a heart-beat late) is waited for, at most one fence.
    const leaseDeadline = this.clock() + this.fenceMs;
    for (;;) {
      const o = this.ownership(bucket, key);
      if (o.kind === 'none' && o.reason === 'no-lease' && this.clock() < leaseDeadline && this.agreed.members.some((m) => m.id === this.self.id)) {
        await abortableSleep(50, signal);
        continue;
      }
      if (o.kind === 'none') {
        this.metrics.fenced(o.reason === 'no-lease' ? 'no-lease' : 'moved');
        throw new ClusterError(o.reason === 'no-lease' ? 'NoQuorum' : 'NotOwner', o.reason === 'no-lease' ? 'this node holds no ownership lease (it cannot reach a quorum of its cluster)' : 'the key moved to another node');
      }
      const wait = o.writableAt - this.clock();
      if (wait <= 0) return;
      this.metrics.fenced('moved');
      await abortableSleep(Math.min(wait, 250), signal);
    }
  }

  /** Resolves true when a view newer than `epoch` is installed, false after `timeoutMs`. */
  async awaitViewAfter(epoch: number, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.agreed.epoch > epoch) return true;
    const deadline = this.clock() + timeoutMs;
    while (this.agreed.epoch <= epoch) {
      const left = deadline - this.clock();
      if (left <= 0 || signal.aborted) return false;
      await this.viewWaiters.next(left, signal);
    }
    return true;
  }

  /**
   * A peer's request stamped with `stamp` (epoch.ringTag, see `stamp`): 'ok' when it names this
   * node's ring (after catching up with a newer view, at most `timeoutMs`), 'stale' when this node
   * already holds a newer ring, 'behind' when it could not learn the newer one in time.
   */
  async admitEpoch(stamp: string, fromId: string | undefined, timeoutMs: number, signal: AbortSignal): Promise<'ok' | 'stale' | 'behind'> {
    if (this.options.solo) return 'ok';
    const [epochText, tag] = stamp.split('.');
    const epoch = Number(epochText);
    if (tag === this.ringTag || epoch === this.agreed.epoch) return 'ok';
    if (!(epoch > this.agreed.epoch)) {
      this.metrics.fenced('stale-epoch');
      return 'stale';
    }
    const from = fromId === undefined ? undefined : this.byIdMap.get(fromId);
    const caught = await this.options.membership.catchUp(epoch, from, AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])).catch(() => false);
    if (caught && (tag === this.ringTag || epoch === this.agreed.epoch)) return 'ok';
    if (caught) {
      this.metrics.fenced('stale-epoch');
      return 'stale';
    }
    this.metrics.fenced('behind');
    return 'behind';
  }

  /** A peer answered with a newer epoch: learn it in the background. */
  heardOf(epoch: number, from: MemberInfo | undefined): void {
    if (this.options.solo || epoch <= this.agreed.epoch) return;
    void this.options.membership.catchUp(epoch, from, AbortSignal.timeout(2000)).catch(() => false);
  }

  fenced(reason: FenceReason): void {
    this.metrics.fenced(reason);
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
    return this.suspects.has(id);
  }

  markSuspect(id: string): void {
    this.suspects.mark(id);
  }

  view(): RingView {
    const lease = this.options.membership.lease;
    const now = this.clock();
    return {
      self: this.self.id,
      detached: this.detachedFlag,
      version: this.version,
      epoch: this.agreed.epoch,
      lease: this.leaseValid(),
      leaseRemainingMs: this.options.solo ? Number.MAX_SAFE_INTEGER : Math.max(0, Math.round(lease.expiresAt - now)),
      settlingMs: this.options.solo ? 0 : Math.max(0, Math.ceil(this.history.current.at + this.fenceMs + this.options.cacheGraceMs - now)),
      changedAt: new Date(this.changedAt).toISOString(),
      members: this.ring.members.map((id) => {
        const member = this.byIdMap.get(id) as MemberInfo;
        return { id, url: member.url, self: id === this.self.id, suspect: this.isSuspect(id), share: this.shares?.shareOf(id) ?? 0 };
      }),
    };
  }

  /** Whether the lease holds at `now`; records breaks in the history (a lapse, or one that passed unseen). */
  private syncLease(now: number): boolean {
    const lease = this.options.membership.lease;
    if (lease.lapses !== this.seenLapses) {
      this.seenLapses = lease.lapses;
      this.history.interrupt(now);
    }
    if (!lease.valid(now)) {
      this.history.interrupt(now);
      return false;
    }
    if (this.history.current.ring === undefined && this.agreed.epoch > 0) this.history.install(this.agreed.epoch, this.ring, now);
    return true;
  }

  private apply(view: AgreedView, notify: boolean): void {
    if (view.epoch <= this.agreed.epoch) return;
    // A view that does not list this node (a lapsed Consul session, scale-in, a node not yet
    // added): the others route its keys elsewhere, so it owns nothing.
    const listed = view.members.some((m) => m.id === this.self.id);
    const detached = view.epoch > 0 && !listed;
    if (detached !== this.detachedFlag) this.options.log.info({ detached }, detached ? 'the agreed view does not list this node: owning no keys' : 'this node is a member again');
    this.detachedFlag = detached;
    const old = this.ring;
    this.agreed = view;
    this.ringTag = hash32(view.members.map((m) => `${m.id}=${m.url}`).join('\n')).toString(16).padStart(8, '0');
    this.ring = buildRing(view.members.map((m) => m.id));
    this.byIdMap = new Map(view.members.map((m) => [m.id, m]));
    this.changedAt = this.now();
    const at = this.clock();
    if (this.options.solo || this.options.membership.lease.valid(at)) this.history.install(view.epoch, this.ring, at);
    else this.history.interrupt(at);
    if (notify) this.previous = { ring: old, until: this.changedAt + this.options.handoffWindowMs };
    this.suspects.retain((id) => this.byIdMap.has(id));
    this.shares?.cancel();
    this.shares = new RingShares(this.ring);
    this.options.metrics.clusterMembers.set(view.members.length);
    this.viewWaiters.wakeAll();
    if (!notify) return;
    this.options.metrics.clusterRingChanges.inc();
    this.options.log.info({ epoch: view.epoch, members: view.members.map((m) => m.id) }, 'ring rebuilt');
    for (const listener of this.ringListeners) listener(this.changedAt);
  }
}
