/**
 * lastAccess stamps of the disk tier's pages. A page gets one when it arrives; a read that
 * leaves it on disk refreshes it at most once per `intervalMs`, and refreshed stamps are
 * persisted lazily, together (one event turn, hence one transaction), `flushDelayMs` after the
 * first. Stamps increase strictly, so the index's order at open is the order pages arrived.
 */
import type { DiskIndexEntry } from './disk-lmdb';

interface AccessStampsOptions {
  now: () => number;
  /** Refresh a page's stamp on a read only if the stored one is older than this. */
  intervalMs: number;
  /** Delay before the refreshed stamps are persisted. */
  flushDelayMs: number;
  /** Persists the refreshed stamps (pageKey -> lastAccess), all in this event turn. */
  persist: (touches: ReadonlyMap<string, number>) => void;
}

export class AccessStamps {
  /** lastAccess values waiting to be persisted. */
  private readonly touches = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** The last stamp handed out (or found at open). */
  private last = 0;

  constructor(private readonly options: AccessStampsOptions) {}

  /** A stamp found in the index at open: later stamps come after it. */
  restored(lastAccess: number): void {
    if (lastAccess > this.last) this.last = lastAccess;
  }

  /** A lastAccess for a page arriving or read now: the clock, strictly after the previous stamp. */
  next(): number {
    const now = this.options.now();
    this.last = now > this.last ? now : this.last + 0.001;
    return this.last;
  }

  /** A read of a page left on disk: refreshes its stamp if the stored one is old enough. */
  used(pageKey: string, entry: DiskIndexEntry): void {
    const now = this.options.now();
    if (now - entry.lastAccess >= this.options.intervalMs) {
      this.touches.set(pageKey, this.next());
      this.timer ??= setTimeout(() => this.flush(), this.options.flushDelayMs).unref();
    }
  }

  /** The page is gone: its refreshed stamp is not persisted. */
  forget(pageKey: string): void {
    this.touches.delete(pageKey);
  }

  /** Persists the refreshed stamps now. */
  flush(): void {
    this.stop();
    if (this.touches.size === 0) return;
    this.options.persist(this.touches);
    this.touches.clear();
  }

  /** Cancels the pending flush (the stamps waiting stay until the next flush). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
