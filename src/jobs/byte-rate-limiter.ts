/**
 * A token bucket of bytes: a job's bandwidth limit. Tokens refill at `bytesPerSecond` up to
 * one second's worth (the largest burst). `take(n)` waits until the bucket holds `n` (or is
 * full, when `n` is more than it can hold), then takes `n`: a batch larger than the bucket
 * still goes, leaving the bucket in debt that later takers wait out, so the average rate is
 * the limit. Takers are served one after the other, in order.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export class ByteRateLimiter {
  private tokens: number;
  private last: number;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    readonly bytesPerSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = bytesPerSecond;
    this.last = now();
  }

  get unlimited(): boolean {
    return this.bytesPerSecond <= 0;
  }

  take(bytes: number, signal: AbortSignal): Promise<void> {
    if (this.unlimited) return Promise.resolve();
    const turn = this.tail.then(async () => {
      const need = Math.min(bytes, this.bytesPerSecond);
      this.refill();
      while (this.tokens < need) {
        await sleep(Math.max(1, Math.ceil(((need - this.tokens) / this.bytesPerSecond) * 1000)), undefined, { signal });
        this.refill();
      }
      this.tokens -= bytes;
    });
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /** Gives back bytes that were taken but did not move (pages found already cached). */
  refund(bytes: number): void {
    if (this.unlimited) return;
    this.refill();
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + bytes);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.last) / 1000) * this.bytesPerSecond);
    this.last = now;
  }
}
