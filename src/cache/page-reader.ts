/**
 * Serves a byte range of one object version page by page: each page comes from the page
 * store (memory, then LMDB) or, on a miss, from one ranged store read shared by every
 * concurrent reader of that page (a PageFill, single-flight). The first page of a miss is
 * streamed to the client as its bytes arrive (cut-through); a sequential reader keeps a bounded
 * window of pages in flight ahead of the client (read-ahead) while pages miss; the client's
 * pace drives everything else, so memory per reader is at most (readAhead + 1) pages.
 *
 * A range inside one resident page is answered with a view of that page (one Buffer, no
 * stream); a longer range is a Readable that hands out resident pages as they are, without a
 * promise or a copy per page.
 */
import { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, UfsAdapter } from '../../ufs-adapters/types';
import type { Metrics } from '../admin/metrics';
import { PageFill, pumpInto, type PageFills } from './page-fill';
import type { PageStash } from './page-stash';
import { pageKeyOf, type PageStore, type Placement, type Tier } from './types';

interface LoadedPage {
  data: Buffer;
  /** Where it came from: this node's tiers, the store ('ufs'), or the previous owner ('peer'). */
  tier: Tier | 'peer';
}

export interface PageSource {
  /** false: pages read from the store are served but not kept (reads for owners that are away, admission rules). */
  keep: boolean;
  /** How pages read here are offered to the page store (default 'read'; a preload's are 'preload'). */
  placement?: Placement;
  /** The store read of a page fails when no byte arrives for this long. */
  idleTimeoutMs: number;
  /** Pages already read from the store for this read but not admitted (see PageStash). */
  unkept?: PageStash;
  /** Another node that may hold the page (warm hand-off); undefined when there is none. */
  peerPage?: (pageKey: string, length: number) => Promise<Buffer | undefined>;
  /** The backing store. */
  store: UfsAdapter;
  key: string;
  info: ObjectInfo;
  objectId: string;
  pageSize: number;
  pages: PageStore;
  fills: PageFills;
  metrics: Metrics;
}

/** A response body: one Buffer (a range within one page, or small) or a stream of pages. */
export type RangeBody = Buffer | Readable;

const pageLength = (src: PageSource, index: number): number => Math.min(src.info.size, (index + 1) * src.pageSize) - index * src.pageSize;

/**
 * The page if this node's tiers hold it, without waiting. A page of another length was not cut
 * for this read (another page size, damage): a miss.
 */
export function residentPage(src: PageSource, index: number): LoadedPage | undefined {
  const found = src.pages.get(pageKeyOf(src.objectId, index));
  if (!found || found.data.length !== pageLength(src, index)) return undefined;
  src.metrics.pageLookupCells.cell(found.tier).add();
  return found;
}

/** One page: from the tiers, or read once from the store (or a peer) and kept. */
export async function loadPage(src: PageSource, index: number): Promise<LoadedPage> {
  const resident = residentPage(src, index);
  if (resident) return resident;
  const fill = fillOf(src, index);
  return { data: await fill.done, tier: fill.source };
}

/** The running fill of a page, joined, or a new one started (a miss). */
function fillOf(src: PageSource, index: number): PageFill {
  const pageKey = pageKeyOf(src.objectId, index);
  const running = src.fills.join(pageKey);
  if (running) return running;
  src.metrics.pageLookupCells.cell('miss').add();
  const length = pageLength(src, index);
  return src.fills.start(
    pageKey,
    length,
    async (fill) => {
      const again = src.pages.get(pageKey); // filled by a fill that ended while we looked
      if (again && again.data.length === length) {
        fill.source = again.tier;
        fill.append(again.data);
        fill.end();
        return;
      }
      const stashed = src.unkept?.take(pageKey); // brought with the metadata, refused by the admission rules
      if (stashed && stashed.length === length) {
        fill.append(stashed);
        fill.end();
        return;
      }
      const fromPeer = src.peerPage ? await src.peerPage(pageKey, length) : undefined;
      if (fromPeer) {
        fill.source = 'peer';
        fill.append(fromPeer);
        fill.end();
        return;
      }
      await readPageFromStore(src, index, fill);
    },
    (fill) => {
      // A page found in the tiers is where it belongs already; one read here is offered.
      if (src.keep && (fill.source === 'ufs' || fill.source === 'peer')) src.pages.put(pageKey, fill.data, src.placement);
    },
  );
}

async function readPageFromStore(src: PageSource, index: number, fill: PageFill): Promise<void> {
  const start = index * src.pageSize;
  const timer = src.metrics.ufsReadSeconds.labels(src.store.kind).startTimer();
  src.metrics.ufsReads.labels(src.store.kind).inc();
  try {
    // No caller's AbortSignal: the read is shared by every joined reader and fills the cache.
    const stream = await src.store.read(src.key, { start, end: start + fill.length - 1 }, { ifMatch: src.info.etag });
    await pumpInto(fill, stream, src.idleTimeoutMs);
  } finally {
    timer();
  }
}

/**
 * The body of `range` (inclusive). Errors before the first byte (not found, store down, version
 * changed) surface here, before any header is sent; a miss resolves as soon as the first bytes
 * of its page arrived and streams the rest as it comes.
 */
export async function openRange(src: PageSource, range: ByteRange, readAhead: number): Promise<RangeBody> {
  const first = Math.floor(range.start / src.pageSize);
  const resident = residentPage(src, first);
  if (resident) return rangeBody(src, range, readAhead, resident);
  const fill = fillOf(src, first);
  await fill.firstBytes();
  if (fill.complete) return rangeBody(src, range, readAhead, { data: fill.data, tier: fill.source });
  return new PageStream(src, range, readAhead, { fill });
}

/** The body of `range` given its first page (already loaded). */
export function rangeBody(src: PageSource, range: ByteRange, readAhead: number, firstPage: LoadedPage): RangeBody {
  const firstIndex = Math.floor(range.start / src.pageSize);
  const lastIndex = Math.floor(range.end / src.pageSize);
  if (firstIndex === lastIndex) return sliceOf(src, range, firstIndex, firstPage);
  return new PageStream(src, range, readAhead, { page: firstPage });
}

/** The part of page `index` inside `range`, counted as served by its tier. */
function sliceOf(src: PageSource, range: ByteRange, index: number, page: LoadedPage): Buffer {
  const { from, to } = bounds(src, range, index, page.data.length);
  src.metrics.bytesServedCells.cell(page.tier).add(to - from);
  return from === 0 && to === page.data.length ? page.data : page.data.subarray(from, to);
}

/** Offsets within page `index` (of `length` bytes) that `range` covers: [from, to). */
function bounds(src: PageSource, range: ByteRange, index: number, length: number): { from: number; to: number } {
  const pageStart = index * src.pageSize;
  return { from: Math.max(range.start, pageStart) - pageStart, to: Math.min(range.end, pageStart + length - 1) - pageStart + 1 };
}

/**
 * Pages of `range` in order: the first one given (loaded, or filling: streamed as it fills),
 * resident ones at once, missing ones with read-ahead.
 */
class PageStream extends Readable {
  private next: number;
  private readonly lastIndex: number;
  private readonly ahead = new Map<number, Promise<LoadedPage>>();
  private first: LoadedPage | undefined;
  /** The first page while it is still filling, and how much of it this stream has pushed. */
  private filling: { fill: PageFill; sent: number; to: number; stop?: () => void } | undefined;

  constructor(
    private readonly src: PageSource,
    private readonly range: ByteRange,
    private readonly readAhead: number,
    start: { page: LoadedPage } | { fill: PageFill },
  ) {
    super({ highWaterMark: 0 });
    this.next = Math.floor(range.start / src.pageSize);
    this.lastIndex = Math.floor(range.end / src.pageSize);
    if ('page' in start) {
      this.first = start.page;
    } else {
      const { from, to } = bounds(src, range, this.next, start.fill.length);
      this.filling = { fill: start.fill, sent: from, to };
      this.next++;
    }
  }

  override _read(): void {
    if (this.filling) {
      this.pushFilling();
      return;
    }
    if (this.next > this.lastIndex) {
      this.push(null);
      return;
    }
    const index = this.next++;
    const ready = this.first ?? (this.ahead.has(index) ? undefined : residentPage(this.src, index));
    this.first = undefined;
    if (ready) {
      this.push(sliceOf(this.src, this.range, index, ready));
      return;
    }
    // A miss: keep up to readAhead pages after it in flight while the client takes this one.
    this.scheduleFrom(index);
    const pending = this.ahead.get(index) as Promise<LoadedPage>;
    this.ahead.delete(index);
    pending.then(
      (page) => {
        if (!this.destroyed) this.push(sliceOf(this.src, this.range, index, page));
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  /** Pushes what arrived of the filling first page; waits for more when nothing new is there. */
  private pushFilling(): void {
    const f = this.filling as NonNullable<PageStream['filling']>;
    if (f.fill.error) {
      this.destroy(f.fill.error);
      return;
    }
    const available = Math.min(f.fill.filled, f.to);
    if (available > f.sent) {
      const chunk = f.fill.data.subarray(f.sent, available);
      this.src.metrics.bytesServedCells.cell(f.fill.source).add(chunk.length);
      f.sent = available;
      if (f.sent === f.to) this.doneFilling();
      this.push(chunk);
      return;
    }
    if (f.sent === f.to) {
      this.doneFilling();
      this._read();
      return;
    }
    if (this.lastIndex >= this.next) this.scheduleFrom(this.next); // read ahead while the first page fills
    f.stop ??= f.fill.watch(() => {
      f.stop?.();
      f.stop = undefined;
      if (!this.destroyed) this.pushFilling();
    });
  }

  private doneFilling(): void {
    this.filling?.stop?.();
    this.filling = undefined;
  }

  private scheduleFrom(index: number): void {
    for (let i = index; i <= Math.min(this.lastIndex, index + this.readAhead); i++) {
      if (this.ahead.has(i)) continue;
      const pending = loadPage(this.src, i);
      pending.catch(() => undefined); // awaited in order; avoid unhandled rejections
      this.ahead.set(i, pending);
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.doneFilling();
    this.ahead.clear();
    callback(err);
  }
}
