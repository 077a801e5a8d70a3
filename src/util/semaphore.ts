/**
 * A counting semaphore: at most `limit` holders at once, waiters served in order. A freed slot
 * passes straight to the first waiter (nobody can slip in between), and a waiter whose signal
 * fires leaves the queue at once, rejecting with the signal's reason.
 */
import { onAbort } from './abort-relay';

interface Waiter {
  grant: () => void;
}

export class Semaphore {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limit: number) {}

  /** Slots held right now. */
  get inUse(): number {
    return this.active;
  }

  /** Callers waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Waits for a slot; the returned function gives it back (calling it twice is harmless).
   * Rejects with `signal.reason` when `signal` fires first (then no slot is taken).
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          leave?.();
          resolve(this.releaser());
        },
      };
      // One listener on the signal for all waiters (a job's signal has many: abort-relay.ts).
      const leave = signal
        ? onAbort(signal, () => {
            const index = this.waiting.indexOf(waiter);
            if (index >= 0) this.waiting.splice(index, 1);
            reject(signal.reason);
          })
        : undefined;
      this.waiting.push(waiter);
    });
  }

  /** Runs `work` in a slot, given back when `work` settles. */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await work();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes to the next waiter as it is: `active` stays the same.
      if (next) next.grant();
      else this.active--;
    };
  }
}
