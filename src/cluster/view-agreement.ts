/**
 * How static peers agree on numbered views without a coordination service: each view change is
 * one decision, taken by a majority of the members of the view before it (the first view, by
 * `bootstrapQuorum` nodes). Every node is an acceptor:
 *
 * - it accepts at most one member set per epoch, and never an epoch below one it accepted
 *   (`promised`), so two different views can never both gather a majority for one epoch;
 * - a node installs a view once a majority accepted it (its proposer tells everyone; the others
 *   also learn it from heart-beat answers), and installs only newer epochs.
 *
 * Leases: a heart-beat sent at time s (the sender's clock) to a member that answers with the
 * same installed epoch and no higher promise is a grant: that member had accepted no newer view
 * when it answered. A node's lease under its view ends `leaseMs` after the q-th most recent
 * grant, q being a majority of the view's members. A newer view needs a majority of the same
 * members to accept it, so at least one of those grants came before the newer view existed: the
 * lease ends at most `leaseMs` after the newer view was agreed, and nodes that gain keys in it
 * wait that long (plus a margin for clock rates) before taking writes for them.
 *
 * All pure: static-membership.ts does the talking.
 */
import { byId, NO_VIEW, sameMembers, type AgreedView, type MemberInfo } from './membership';

/**
 * The configured peer list, versioned: changed through the admin API or a reloaded peers file on
 * any node, it travels with heart-beats both ways and the highest version wins (ties: the
 * larger list by its JSON, so every node picks the same).
 */
export interface PeerList {
  version: number;
  members: MemberInfo[];
}

/** What a node says in answer to a heart-beat. */
export interface HeartbeatAnswer {
  id: string;
  /** Its cluster part has started (it will serve what it owns). */
  ready: boolean;
  installed: AgreedView;
  promised: number;
  peers?: PeerList;
}

export interface HeartbeatRequest {
  from: string;
  epoch: number;
  peers?: PeerList;
}

/**
 * Whether `candidate` replaces `current` (higher version; the same version with a larger JSON).
 * Version 0 is each node's own configuration: it never spreads (a node listed only in its own
 * configuration does not join; it has to be added).
 */
export function newerPeerList(candidate: PeerList, current: PeerList): boolean {
  if (candidate.version === 0) return false;
  if (candidate.version !== current.version) return candidate.version > current.version;
  return JSON.stringify([...candidate.members].sort(byId)) > JSON.stringify([...current.members].sort(byId));
}

export interface Proposal {
  epoch: number;
  members: MemberInfo[];
}

export interface ProposeAnswer {
  accepted: boolean;
  promised: number;
  installed: AgreedView;
}

/** One node's acceptor state (kept in memory: a restarted node starts with none and learns the view from its peers). */
export class Acceptor {
  private installedView: AgreedView = NO_VIEW;
  private promisedEpoch = 0;
  private acceptedView: AgreedView | undefined;

  get installed(): AgreedView {
    return this.installedView;
  }

  get promised(): number {
    return this.promisedEpoch;
  }

  /** A proposal: accepted when its epoch is above every promise, or repeats the view accepted for that epoch. */
  propose(proposal: Proposal): ProposeAnswer {
    const repeat = proposal.epoch === this.promisedEpoch && this.acceptedView !== undefined && this.acceptedView.epoch === proposal.epoch && sameMembers(this.acceptedView.members, proposal.members);
    const accepted = repeat || proposal.epoch > this.promisedEpoch;
    if (accepted) {
      this.promisedEpoch = proposal.epoch;
      this.acceptedView = { epoch: proposal.epoch, members: [...proposal.members].sort(byId) };
    }
    return { accepted, promised: this.promisedEpoch, installed: this.installedView };
  }

  /** An agreed view: installed when newer than the one held. Returns whether it was. */
  install(view: AgreedView): boolean {
    if (view.epoch <= this.installedView.epoch) return false;
    this.installedView = { epoch: view.epoch, members: [...view.members].sort(byId) };
    this.promisedEpoch = Math.max(this.promisedEpoch, view.epoch);
    return true;
  }

  /** Whether this node's own heart-beat grant holds now (it accepted nothing newer than it installed). */
  grants(): boolean {
    return this.installedView.epoch > 0 && this.promisedEpoch <= this.installedView.epoch;
  }
}

/** Whether an answer to a heart-beat sent under `epoch` is a lease grant. */
export const isGrant = (answer: HeartbeatAnswer, epoch: number): boolean => epoch > 0 && answer.installed.epoch === epoch && answer.promised <= epoch;

/** Members needed for a majority of `count`. */
export const majority = (count: number): number => Math.floor(count / 2) + 1;

/**
 * The time the lease is counted from: the q-th most recent grant among `members` (q a
 * majority), or undefined when fewer than q of them ever granted.
 */
export function leaseStart(members: readonly string[], lastGrant: ReadonlyMap<string, number>): number | undefined {
  const q = majority(members.length);
  const times = members.map((id) => lastGrant.get(id)).filter((t): t is number => t !== undefined).sort((a, b) => b - a);
  return times.length >= q ? times[q - 1] : undefined;
}

/** Whether the accepting ids make a quorum for a proposal made on top of `installed`. */
export function isQuorum(installed: AgreedView, accepting: ReadonlySet<string>, bootstrapQuorum: number): boolean {
  if (installed.epoch === 0) return accepting.size >= bootstrapQuorum;
  const base = installed.members.map((m) => m.id);
  return base.filter((id) => accepting.has(id)).length >= majority(base.length);
}
