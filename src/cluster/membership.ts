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
