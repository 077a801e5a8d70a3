/**
 * Membership: which nodes form the ring, as a numbered view every node agrees on. A source
 * (static peers agreeing by majority, Consul, etcd) reports the agreed view (`epoch`, members)
 * and keeps this node's ownership lease (lease.ts): the time until which what it last
 * confirmed still holds. The cluster node rebuilds the ring from each new view, and owns keys
 * only while the lease holds.
 *
 * Epochs only grow. Two nodes with the same epoch have the same members. A node that hears of
 * a newer epoch (a forwarded request, an internal call) asks its source to catch up before it
 * answers (`catchUp`).
 */
import type { Lease } from './lease';

/** A node as the others see it: its stable id (the ring key) and the URL that reaches it. */
export interface MemberInfo {
  readonly id: string;
  readonly url: string;
}

/** The agreed ring version: epoch 0 means none agreed yet (no members). */
export interface AgreedView {
  readonly epoch: number;
  /** Sorted by id. */
  readonly members: readonly MemberInfo[];
}

export const NO_VIEW: AgreedView = Object.freeze({ epoch: 0, members: Object.freeze([]) as readonly MemberInfo[] });

export interface Membership {
  /** Begins watching (registering, heart-beating). Resolves once the source has been asked once (a view may not exist yet). */
  start(): Promise<void>;
  /** The agreed view as last known. */
  view(): AgreedView;
  /** The members of the agreed view, sorted by id. */
  members(): readonly MemberInfo[];
  /** Called with the new member set whenever it changes (ids or URLs). Returns an unsubscribe. */
  onChange(listener: (members: readonly MemberInfo[]) => void): () => void;
  /** Called with every newer view (a new epoch, even with the same members). Returns an unsubscribe. */
  onView(listener: (view: AgreedView) => void): () => void;
  /** This node's ownership lease under the agreed view. */
  readonly lease: Lease;
  /**
   * The longest any node's lease of a view lasts after a newer view was agreed: a node that
   * gains keys in a new view waits this long (plus the skew margin) before it takes writes of
   * them, so the previous owner has stopped serving them.
   */
  readonly leaseMs: number;
  /**
   * A peer spoke of `epoch`: learn a view at least that new, from the source (or from `from`).
   * Resolves true once view().epoch >= epoch, false when that did not happen in time.
   */
  catchUp(epoch: number, from: MemberInfo | undefined, signal: AbortSignal): Promise<boolean>;
  /** Stops watching; deregisters this node where the source supports it. */
  stop(): Promise<void>;
}

/** Same ids with the same URLs, in any order. */
export function sameMembers(a: readonly MemberInfo[], b: readonly MemberInfo[]): boolean {
  if (a.length !== b.length) return false;
  const urls = new Map(a.map((m) => [m.id, m.url]));
  return b.every((m) => urls.get(m.id) === m.url);
}

export const byId = (a: MemberInfo, b: MemberInfo): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

type Log = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

/**
 * The agreed view a membership source keeps: replaced whole by newer epochs only (an older or
 * equal epoch is ignored), each change logged and told to every listener (a listener that
 * throws is logged, never breaks the source).
 */
export class ViewSet {
  private current: AgreedView = NO_VIEW;
  private readonly memberListeners = new Set<(members: readonly MemberInfo[]) => void>();
  private readonly viewListeners = new Set<(view: AgreedView) => void>();

  constructor(private readonly log: Log) {}

  get(): AgreedView {
    return this.current;
  }

  onChange(listener: (members: readonly MemberInfo[]) => void): () => void {
    this.memberListeners.add(listener);
    return () => this.memberListeners.delete(listener);
  }

  onView(listener: (view: AgreedView) => void): () => void {
    this.viewListeners.add(listener);
    return () => this.viewListeners.delete(listener);
  }

  /** Installs `next` if its epoch is newer; returns whether it did. */
  set(next: AgreedView): boolean {
    if (next.epoch <= this.current.epoch) return false;
    const previous = this.current;
    this.current = Object.freeze({ epoch: next.epoch, members: Object.freeze([...next.members].sort(byId)) });
    const membersChanged = !sameMembers(previous.members, this.current.members);
    if (membersChanged) this.log.info({ epoch: next.epoch, members: this.current.members.map((m) => m.id) }, 'cluster membership changed');
    this.tell(this.viewListeners, this.current);
    if (membersChanged) this.tell(this.memberListeners, this.current.members);
    return true;
  }

  private tell<T>(listeners: Set<(value: T) => void>, value: T): void {
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (err) {
        this.log.warn({ err }, 'membership listener failed');
      }
    }
  }
}
