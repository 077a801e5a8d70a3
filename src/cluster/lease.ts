/**
 * This node's ownership lease: how long what membership last confirmed (this node is a member
 * of the agreed ring, and no newer ring can be in force) still holds, on this node's monotonic
 * clock. A confirmation is dated by when it was *sent* (a heartbeat, a lease renewal, a
 * consistent read), never by when its answer came back: whatever the others decided after that
 * moment, they decided at least `durationMs` before this lease ends for them too.
 *
 * The lease lapses when no confirmation arrives in time. Each lapse is counted: while the
 * lease was lapsed, the others may have formed rings without this node and changed its keys,
 * so the cluster node starts a new ownership run after every lapse (see ownership-history.ts).
 */

export class Lease {
  private until = 0;
  private lapseCount = 0;

  constructor(private readonly clock: () => number) {}

  /** A confirmation sent at `sentAt` (this node's monotonic clock) that holds for `durationMs`. */
  extend(sentAt: number, durationMs: number): void {
    const end = sentAt + durationMs;
    if (end <= this.until) return;
    // Sent after the lease had ended (or before any): there was a gap in which this node held nothing.
    if (sentAt >= this.until) this.lapseCount++;
    this.until = end;
  }

  /** Ends the lease now (a source that knows it lost its session, a stop). */
  revoke(): void {
    const now = this.clock();
    if (this.until > now) this.until = now;
  }

  valid(now = this.clock()): boolean {
    return now < this.until;
  }

  /** Monotonic time at which the lease ends (0: never held). */
  get expiresAt(): number {
    return this.until;
  }

  /** How many times the lease started anew after a gap (the first grant counts as one). */
  get lapses(): number {
    return this.lapseCount;
  }
}
