/**
 * Static membership: the nodes listed in the configuration (or set later through the admin
 * API), agreeing on numbered views by majority (view-agreement.ts).
 *
 * Every `probeIntervalMs` this node sends a heart-beat to each peer (the configured ones and the
 * members of its view). Answers carry the peer's installed view, which this node adopts when it
 * is newer, and count as lease grants (view-agreement.ts). A peer that fails
 * `failuresBeforeDown` heart-beats in a row is down; one that answers and has started is live.
 * When the live nodes differ from the view's members, the coordinator (the live node with the
 * smallest id; any node after three rounds without a change) proposes the next epoch with the
 * live set; it is agreed when a majority of the current view's members accept it.
 *
 * A node that cannot reach a majority of its view's members gets no grants and its lease ends:
 * it owns no key until it can again. A node whose view does not list it owns no key either.
 */
import { Acceptor, isGrant, isQuorum, leaseStart, newerPeerList, type HeartbeatAnswer, type HeartbeatRequest, type PeerList, type Proposal, type ProposeAnswer } from './view-agreement';
import { untilAborted } from '../util/until-aborted';
import { Lease } from './lease';
import { byId, sameMembers, ViewSet, type AgreedView, type MemberInfo, type Membership } from './membership';
import { ViewedMembership } from './viewed-membership';

/** How one node talks to another for the agreement (signed internal calls, see cluster.ts). */
export interface AgreementTransport {
  heartbeat(peer: MemberInfo, request: HeartbeatRequest, timeoutMs: number): Promise<HeartbeatAnswer>;
  propose(peer: MemberInfo, proposal: Proposal, timeoutMs: number): Promise<ProposeAnswer>;
  commit(peer: MemberInfo, view: AgreedView, timeoutMs: number): Promise<void>;
}

/** The endpoints a static member answers (cluster-plugin.ts routes them here). */
export interface AgreementEndpoint {
  answerHeartbeat(request: HeartbeatRequest): HeartbeatAnswer;
  answerPropose(proposal: Proposal): ProposeAnswer;
  answerCommit(view: AgreedView): void;
}

interface StaticMembershipOptions {
  self: MemberInfo;
  peers: readonly MemberInfo[];
  probeIntervalMs: number;
  probeTimeoutMs: number;
  failuresBeforeDown: number;
  /** A lease lasts this long after the grants it is counted from. */
  leaseMs: number;
  /** Nodes that must accept the first view when none exists (more than half of the nodes you run). */
  bootstrapQuorum: number;
  transport: AgreementTransport;
  clock: () => number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Rounds a non-coordinator waits for the coordinator to fix a discrepancy before proposing itself. */
const PATIENCE_ROUNDS = 3;

interface PeerState {
  info: MemberInfo;
  failures: number;
  ready: boolean;
}

export class StaticMembership extends ViewedMembership implements Membership, AgreementEndpoint {
  readonly lease: Lease;
  readonly leaseMs: number;
  private readonly acceptor = new Acceptor();
  /** The configured peers (this node among them unless it was removed), versioned (see PeerList). */
  private configured: MemberInfo[];
  private peersVersion = 0;
  private readonly peerStates = new Map<string, PeerState>();
  /** Send time of the last heart-beat each member granted (self included). */
  private readonly lastGrant = new Map<string, number>();
  private highestPromiseSeen = 0;
  private discrepancyRounds = 0;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private proposing = false;

  constructor(private readonly options: StaticMembershipOptions) {
    super(new ViewSet(options.log));
    this.lease = new Lease(options.clock);
    this.leaseMs = options.leaseMs;
    this.configured = dedupe([options.self, ...options.peers]);
  }

  async start(): Promise<void> {
    this.started = true;
    await this.tick();
    const loop = (): void => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.round = this.tick().finally(loop);
      }, this.options.probeIntervalMs);
      this.timer.unref();
    };
    loop();
  }

  /** The configured peers and their version. */
  peers(): PeerList {
    return { version: this.peersVersion, members: this.configured };
  }

  /**
   * Replaces the configured peers (admin API, a reloaded peers file) with a new version that
   * every node adopts from the heart-beats; the next rounds agree on a view of the live ones. A
   * node left out of the list leaves the view and owns nothing.
   */
  setPeers(peers: readonly MemberInfo[]): PeerList {
    this.adoptPeers({ version: this.peersVersion + 1, members: dedupe(peers) });
    return this.peers();
  }

  private adoptPeers(list: PeerList): void {
    if (!newerPeerList(list, this.peers())) return;
    this.configured = dedupe(list.members);
    this.peersVersion = list.version;
    for (const id of [...this.peerStates.keys()]) if (!this.configured.some((m) => m.id === id)) this.peerStates.delete(id);
    this.options.log.info({ version: list.version, peers: this.configured.map((m) => m.id) }, 'static peer list replaced');
  }

  async catchUp(epoch: number, from: MemberInfo | undefined, signal: AbortSignal): Promise<boolean> {
    if (this.view().epoch >= epoch) return true;
    const targets = from ? [from] : this.targets();
    await Promise.all(targets.map((peer) => this.beat(peer, signal).catch(() => undefined)));
    return this.view().epoch >= epoch;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    this.lease.revoke();
  }

  // ---- the endpoints ----

  answerHeartbeat(request: HeartbeatRequest): HeartbeatAnswer {
    if (request.peers) this.adoptPeers(request.peers);
    // A peer on a newer view: learn it without waiting for the next round.
    if (request.epoch > this.view().epoch) {
      const peer = this.peerStates.get(request.from)?.info ?? this.configured.find((m) => m.id === request.from);
      if (peer) void this.beat(peer, AbortSignal.timeout(this.options.probeTimeoutMs)).catch(() => undefined);
    }
    return { id: this.options.self.id, ready: this.started && !this.stopped, installed: this.acceptor.installed, promised: this.acceptor.promised, peers: this.peers() };
  }

  /**
   * A proposal naming a node this node's peer list does not have (a node that lists itself and
   * was never added, or one removed) is refused: only the listed nodes form views. (A list just
   * changed elsewhere reaches this node with the next heart-beat; the proposer tries again.)
   */
  answerPropose(proposal: Proposal): ProposeAnswer {
    const listed = new Map(this.configured.map((m) => [m.id, m.url]));
    const refused = { accepted: false, promised: this.acceptor.promised, installed: this.acceptor.installed };
    if (!proposal.members.every((m) => listed.get(m.id) === m.url)) return refused;
    if (this.addsUnreachable(proposal)) return refused;
    return this.acceptor.propose(proposal);
  }

  /**
   * Whether `proposal` adds to the installed view a node this node's own heart-beats find down.
   * Reachability can be one-way (a node whose inbound connections hang while its own calls to
   * the others go through): such a node hears everyone and would propose itself back into every
   * view the others agree on without it, so views would flap and writes of its keys would wait
   * on every flap. A node joins only once the nodes accepting it can reach it themselves.
   * (Removals are never refused: a view without a live node is safe, it only moves keys.)
   */
  private addsUnreachable(proposal: Proposal): boolean {
    const installed = this.view();
    if (installed.epoch === 0) return false;
    const current = new Set(installed.members.map((m) => m.id));
    return proposal.members.some((m) => {
      if (m.id === this.options.self.id || current.has(m.id)) return false;
      const state = this.peerStates.get(m.id);
      return state === undefined || state.info.url !== m.url || state.failures >= this.options.failuresBeforeDown;
    });
  }

  answerCommit(view: AgreedView): void {
    this.install(view);
  }

  // ---- the rounds ----

  /** Heart-beats of the configured peers and the view's members (never throws). */
  private targets(): MemberInfo[] {
    const all = new Map<string, MemberInfo>();
    for (const m of [...this.configured, ...this.view().members]) if (m.id !== this.options.self.id) all.set(m.id, m);
    return [...all.values()];
  }

  private async tick(): Promise<void> {
    const targets = this.targets();
    // This node's own grant is dated now, and each peer's grant renews the lease as soon as it
    // comes (beat): a round lasts as long as its slowest heart-beat (a hung peer: the probe
    // timeout), and a lease renewed only at its end could lapse every round although a majority
    // answered at once; every lapse starts a new ownership run (fences, no caching).
    if (this.acceptor.grants()) this.lastGrant.set(this.options.self.id, this.options.clock());
    await Promise.all(targets.map((peer) => this.beat(peer, AbortSignal.timeout(this.options.probeTimeoutMs)).catch(() => this.failed(peer))));
    if (this.stopped) return;
    if (this.acceptor.grants()) this.lastGrant.set(this.options.self.id, this.options.clock());
    this.renewLease();
    await this.maybePropose();
  }

  /** One heart-beat to `peer`: adopts a newer view, records a grant. Rejects when the peer does not answer. */
  private async beat(peer: MemberInfo, signal: AbortSignal): Promise<void> {
    const epoch = this.view().epoch;
    const sentAt = this.options.clock();
    const answer = await untilAborted(this.options.transport.heartbeat(peer, { from: this.options.self.id, epoch, peers: this.peers() }, this.options.probeTimeoutMs), signal);
    if (answer.peers) this.adoptPeers(answer.peers);
    const state = this.stateOf(peer);
    state.failures = 0;
    state.ready = answer.ready;
    this.highestPromiseSeen = Math.max(this.highestPromiseSeen, answer.promised);
    if (answer.installed.epoch > this.view().epoch) this.install(answer.installed);
    else if (isGrant(answer, epoch)) {
      this.lastGrant.set(peer.id, sentAt);
      if (!this.stopped) this.renewLease();
    }
  }

  private failed(peer: MemberInfo): void {
    const state = this.stateOf(peer);
    state.failures++;
  }

  private stateOf(peer: MemberInfo): PeerState {
    let state = this.peerStates.get(peer.id);
    if (!state || state.info.url !== peer.url) {
      // Never heard from: counted down until it answers.
      state = { info: peer, failures: this.options.failuresBeforeDown, ready: false };
      this.peerStates.set(peer.id, state);
    }
    return state;
  }

  private renewLease(): void {
    const view = this.view();
    if (view.epoch === 0 || !view.members.some((m) => m.id === this.options.self.id)) return;
    const start = leaseStart(
      view.members.map((m) => m.id),
      this.lastGrant,
    );
    if (start !== undefined) this.lease.extend(start, this.leaseMs);
  }

  private install(view: AgreedView): void {
    if (!this.acceptor.install(view)) return;
    this.views.set(this.acceptor.installed);
    // Grants were given to the views before; those of the new view's members still count (see view-agreement.ts).
    this.renewLease();
  }

  /** This node and the peers that answered its recent heart-beats (whether listed or not). */
  private heard(): string[] {
    const ids = [this.options.self.id];
    for (const state of this.peerStates.values()) if (state.failures < this.options.failuresBeforeDown) ids.push(state.info.id);
    return ids;
  }

  /** The live, started, configured nodes this node can see (itself included unless it was removed), sorted. */
  private live(): MemberInfo[] {
    const configuredIds = new Set(this.configured.map((m) => m.id));
    const live: MemberInfo[] = configuredIds.has(this.options.self.id) ? [this.options.self] : [];
    for (const state of this.peerStates.values()) {
      if (state.failures < this.options.failuresBeforeDown && state.ready && configuredIds.has(state.info.id)) live.push(state.info);
    }
    return live.sort(byId);
  }

  /**
   * Proposes the next view when the live listed nodes differ from the view's members, or when
   * a promise above the installed epoch is outstanding (a proposal that never completed: the
   * nodes that promised grant no lease until a newer view is installed). Only a node that hears
   * from a majority of the view's members proposes, so a node cut off (or hearing nothing back)
   * cannot disturb the others with proposals that could never complete.
   */
  private async maybePropose(): Promise<void> {
    if (this.proposing || this.stopped) return;
    const installed = this.view();
    const live = this.live();
    const outstanding = Math.max(this.acceptor.promised, this.highestPromiseSeen) > installed.epoch;
    if (installed.epoch > 0 && sameMembers(live, installed.members) && !outstanding) {
      this.discrepancyRounds = 0;
      return;
    }
    this.discrepancyRounds++;
    if (live.length === 0) return;
    const coordinator = live[0].id === this.options.self.id;
    if (!coordinator && this.discrepancyRounds <= PATIENCE_ROUNDS) return;
    if (installed.epoch === 0 && live.length < this.options.bootstrapQuorum) return;
    if (installed.epoch > 0 && !isQuorum(installed, new Set(this.heard()), this.options.bootstrapQuorum)) return;
    const proposal: Proposal = { epoch: Math.max(installed.epoch, this.acceptor.promised, this.highestPromiseSeen) + 1, members: live };
    this.proposing = true;
    try {
      const accepting = new Set<string>();
      const own = this.acceptor.propose(proposal);
      if (own.accepted) accepting.add(this.options.self.id);
      const voters = new Map<string, MemberInfo>();
      for (const m of [...live, ...installed.members]) if (m.id !== this.options.self.id) voters.set(m.id, m);
      await Promise.all(
        [...voters.values()].map(async (peer) => {
          try {
            const answer = await this.options.transport.propose(peer, proposal, this.options.probeTimeoutMs);
            this.highestPromiseSeen = Math.max(this.highestPromiseSeen, answer.promised);
            if (answer.accepted) accepting.add(peer.id);
            if (answer.installed.epoch > this.view().epoch) this.install(answer.installed);
          } catch {
            // not reachable: no vote
          }
        }),
      );
      if (this.view().epoch >= proposal.epoch || !isQuorum(installed, accepting, this.options.bootstrapQuorum)) return;
      const view: AgreedView = { epoch: proposal.epoch, members: proposal.members };
      this.options.log.info({ epoch: view.epoch, members: view.members.map((m) => m.id), accepted: [...accepting] }, 'view agreed');
      this.install(view);
      this.discrepancyRounds = 0;
      await Promise.all([...voters.values()].map((peer) => this.options.transport.commit(peer, view, this.options.probeTimeoutMs).catch(() => undefined)));
    } finally {
      this.proposing = false;
    }
  }
}

function dedupe(members: readonly MemberInfo[]): MemberInfo[] {
  const byIdMap = new Map<string, MemberInfo>();
  for (const m of members) if (!byIdMap.has(m.id)) byIdMap.set(m.id, { id: m.id, url: m.url });
  return [...byIdMap.values()].sort(byId);
}
