/**
 * A page on its way from the store (or a peer) into the cache. Readers that want it do not wait
 * for the whole page: they stream the bytes already arrived and follow the fill as it grows, so
 * a miss answers the client at the pace of the store's bytes (cut-through), not after a full
 * page (store-and-forward). The page Buffer is written once, front to back, and never changed
 * after: a reader's view of its filled prefix stays valid.
 *
 * PageFills is the single-flight registry: one fill per page key at a time, joined by every
 * reader of that page while it runs.
 */
import type { Readable } from 'node:stream';
import { ufsError } from '../../ufs-adapters/errors';

/** Where the bytes of a fill came from (a tier when another fill stored the page meanwhile). */
type FillSource = 'ufs' | 'peer' | 'memory' | 'disk';

export class PageFill {
  readonly data: Buffer;
  /** Bytes of `data` written so far. */
  filled = 0;
  source: FillSource = 'ufs';
  /** Readers that joined this fill after it started (PageFills.join). */
  joins = 0;
  /** Runs when the page is complete, before anyone waiting for it hears so (the cache keeps it). */
  onComplete: ((fill: PageFill) => void) | undefined;
  private failure: Error | undefined;
  private finished = false;
  private readonly listeners = new Set<() => void>();
  private settle!: { resolve: (data: Buffer) => void; reject: (err: Error) => void };
  /** The whole page, once it arrived; rejects if the fill fails. */
  readonly done: Promise<Buffer>;

  constructor(readonly length: number) {
    this.data = Buffer.allocUnsafe(length);
    this.done = new Promise<Buffer>((resolve, reject) => (this.settle = { resolve, reject }));
    this.done.catch(() => undefined); // readers observe failures through their own waits
  }

  get complete(): boolean {
    return this.finished && this.failure === undefined;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  append(chunk: Buffer): void {
    if (this.finished) return;
    if (this.filled + chunk.length > this.length) {
      this.fail(ufsError('Unavailable', 'the store returned more bytes than the range asked for'));
      return;
    }
    chunk.copy(this.data, this.filled);
    this.filled += chunk.length;
    // Complete with its last byte, not when the source ends: a reader that got the whole page
    // and asks again must find it kept.
    if (this.filled === this.length) this.end();
    else this.notify();
  }

  /** The producer is done: the page is complete if every byte arrived. */
  end(): void {
    if (this.finished) return;
    if (this.filled !== this.length) {
      this.fail(ufsError('Unavailable', `the store returned ${this.filled} of ${this.length} bytes of a page`));
      return;
    }
    this.finished = true;
    try {
      this.onComplete?.(this);
    } finally {
      this.settle.resolve(this.data);
      this.notify();
    }
  }

  fail(err: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = err instanceof Error ? err : new Error(String(err));
    this.settle.reject(this.failure);
    this.notify();
  }

  /** Calls `listener` on every change (bytes arrived, completed, failed) until it is removed. */
  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once some bytes arrived or the page is complete; rejects if it failed before. */
  firstBytes(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.filled > 0 || this.finished) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const stop = this.watch(() => {
        stop();
        if (this.failure && this.filled === 0) reject(this.failure);
        else resolve();
      });
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Copies `stream` into `fill`. A store that stops sending for `idleTimeoutMs` fails the fill
 * (and everyone reading it) instead of holding them forever.
 */
export async function pumpInto(fill: PageFill, stream: Readable, idleTimeoutMs: number): Promise<void> {
  const idle = setTimeout(() => stream.destroy(ufsError('Unavailable', `the store sent nothing for ${idleTimeoutMs} ms while a page was read`)), idleTimeoutMs);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      idle.refresh();
      fill.append(chunk);
      if (fill.error) throw fill.error;
    }
    fill.end();
  } catch (err) {
    fill.fail(err);
  } finally {
    clearTimeout(idle);
    stream.destroy();
  }
}

/** One fill per page key while it runs. */
export class PageFills {
  private readonly running = new Map<string, PageFill>();

  constructor(private readonly onJoin: () => void = () => undefined) {}

  /** The running fill of `pageKey`, if any (counts as a join). */
  join(pageKey: string): PageFill | undefined {
    const fill = this.running.get(pageKey);
    if (fill) {
      fill.joins++;
      this.onJoin();
    }
    return fill;
  }

  /**
   * Starts a fill of `length` bytes produced by `produce`; `settled` runs when it completed (keep
   * the page) before the fill leaves the registry, so a reader finds the page either here or in
   * the tiers.
   */
  start(pageKey: string, length: number, produce: (fill: PageFill) => Promise<void>, settled: (fill: PageFill) => void): PageFill {
    const fill = new PageFill(length);
    fill.onComplete = settled;
    this.running.set(pageKey, fill);
    void produce(fill)
      .catch((err: unknown) => fill.fail(err))
      .finally(() => {
        if (!fill.complete) fill.fail(fill.error ?? ufsError('Unavailable', 'the page was not filled'));
        if (this.running.get(pageKey) === fill) this.running.delete(pageKey);
      });
    return fill;
  }

  /** Whether a fill of `pageKey` is running (not a join). */
  has(pageKey: string): boolean {
    return this.running.has(pageKey);
  }
}
