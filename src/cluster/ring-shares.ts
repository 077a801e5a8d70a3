/**
 * The share of the key space each member owns, as the ring view shows it: sampled over a fixed
 * set of keys, in slices of a few milliseconds between event-loop turns, so that a ring change
 * never blocks requests (20,000 owner lookups over 1000 members take tens of milliseconds).
 * Until the sampling of a ring is done, each member shows the even share, 1/N.
 */
import type { Ring } from './ring';

const SAMPLES = 20_000;
/** Work done per turn of the event loop before yielding. */
const SLICE_MS = 2;

export class RingShares {
  private counts: Map<string, number>;
  private done = false;
  private cancelled = false;

  constructor(
    private readonly ring: Ring,
    private readonly samples = SAMPLES,
  ) {
    this.counts = new Map(ring.members.map((id) => [id, 0]));
    if (ring.members.length <= 1) this.done = true;
    else setImmediate(() => this.sample(0));
  }

  /** The member's sampled share (the even share while sampling is under way). */
  shareOf(id: string): number {
    const n = this.ring.members.length;
    if (!this.counts.has(id)) return 0;
    if (n <= 1) return 1;
    return this.done ? (this.counts.get(id) as number) / this.samples : 1 / n;
  }

  /** Whether the figures are sampled (not the even share). */
  get sampled(): boolean {
    return this.done;
  }

  /** Stops sampling (the ring was replaced). */
  cancel(): void {
    this.cancelled = true;
  }

  /** Resolves once sampling is done or cancelled (tests). */
  async settled(): Promise<void> {
    while (!this.done && !this.cancelled) await new Promise((r) => setImmediate(r));
  }

  private sample(from: number): void {
    if (this.cancelled) return;
    const stopAt = performance.now() + SLICE_MS;
    let i = from;
    for (; i < this.samples; i++) {
      const owner = this.ring.owner(`share-sample/${i}`) as string;
      this.counts.set(owner, (this.counts.get(owner) as number) + 1);
      // Checking the clock every 64 lookups keeps its cost out of the loop.
      if ((i & 63) === 63 && performance.now() >= stopAt) {
        i++;
        break;
      }
    }
    if (i >= this.samples) this.done = true;
    else setImmediate(() => this.sample(i));
  }
}
