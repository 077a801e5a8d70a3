/**
 * Membership: who is in the cluster right now. A source (static peers with health probes,
 * or Consul) reports the healthy members; the cluster rebuilds the ring from their ids
 * whenever that set changes.
 */

/** A node as the others see it: its stable id (the ring key) and the URL that reaches it. */
export interface MemberInfo {
  readonly id: string;
  readonly url: string;
}

export interface Membership {
  /** Begins watching (and registering, for Consul). Resolves once a first member set is known. */
  start(): Promise<void>;
  /** The healthy members as last known, sorted by id. May or may not include this node. */
  members(): readonly MemberInfo[];
  /** Called with the new healthy set whenever it changes (ids or URLs). Returns an unsubscribe. */
  onChange(listener: (members: readonly MemberInfo[]) => void): () => void;
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

/**
 * The member set a membership source keeps: replaced whole, and each change logged and told
 * to every listener (a listener that throws is logged, never breaks the source).
 */
export class MemberSet {
  private current: readonly MemberInfo[];
  private readonly listeners = new Set<(members: readonly MemberInfo[]) => void>();

  constructor(
    initial: readonly MemberInfo[],
    private readonly log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
  ) {
    this.current = initial;
  }

  get(): readonly MemberInfo[] {
    return this.current;
  }

  onChange(listener: (members: readonly MemberInfo[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(next: readonly MemberInfo[]): void {
    if (sameMembers(next, this.current)) return;
    this.current = next;
    this.log.info({ members: next.map((m) => m.id) }, 'cluster membership changed');
    for (const listener of this.listeners) {
      try {
        listener(next);
      } catch (err) {
        this.log.warn({ err }, 'membership listener failed');
      }
    }
  }
}
