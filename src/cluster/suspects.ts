/**
 * Members that recently failed a request: skipped for `suspectMs` without waiting for
 * membership to notice. This node is never its own suspect.
 */
export class Suspects {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly selfId: string,
    private readonly suspectMs: number,
    private readonly now: () => number,
  ) {}

  has(id: string): boolean {
    const until = this.until.get(id);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    this.until.delete(id);
    return false;
  }

  mark(id: string): void {
    if (id !== this.selfId) this.until.set(id, this.now() + this.suspectMs);
  }

  /** Forgets the suspects that are no longer members. */
  retain(isMember: (id: string) => boolean): void {
    for (const id of this.until.keys()) if (!isMember(id)) this.until.delete(id);
  }
}
