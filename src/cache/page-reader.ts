/**
 * Serves a byte range of one object version page by page: each page comes from the page
 * store (memory, then LMDB) or, on a miss, from one ranged store read shared by every
 * concurrent reader of that page (single-flight). A sequential reader keeps a bounded
 * window of pages in flight ahead of the client (read-ahead) while pages miss; the client's
 * pace drives everything else, so memory per reader is at most (readAhead + 1) pages.
 *
 * A range inside one page is answered with a view of that page (one Buffer, no stream); a
 * longer range is a Readable that hands out resident pages as they are, without a promise or
 * a copy per page.
 */
import { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, UfsAdapter } from '../../ufs-adapters/types';
import { ufsError } from '../../ufs-adapters/errors';
import type { Metrics } from '../admin/metrics';
import type { PageStash } from './page-stash';
import type { SingleFlight } from './single-flight';
import { pageKeyOf, type PageFill, type PageStore, type Tier } from './types';

export interface LoadedPage {
  data: Buffer;
  /** Where it came from: this node's tiers, the store ('ufs'), or the previous owner ('peer'). */
  tier: Tier | 'peer';
}

export interface PageSource {
  /** false: pages read from the store are served but not kept (reads for owners that are away, admission rules). */
  keep: boolean;
  /** How pages read here are offered to the store (default 'read'; a preload's are 'preload'). */
  fill?: PageFill;
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
  flights: SingleFlight<Buffer>;
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
  return residentPage(src, index) ?? fetchPage(src, index);
}

async function fetchPage(src: PageSource, index: number): Promise<LoadedPage> {
  const pageKey = pageKeyOf(src.objectId, index);
  const expected = pageLength(src, index);
  src.metrics.pageLookupCells.cell('miss').add();
  let tier: LoadedPage['tier'] = 'ufs';
  const data = await src.flights.run(pageKey, async () => {
    const again = src.pages.get(pageKey); // filled by a flight that ended while we looked
    if (again && again.data.length === expected) return again.data;
    const stashed = src.unkept?.take(pageKey); // brought with the metadata, refused by the admission rules
    if (stashed && stashed.length === expected) {
      if (src.keep) src.pages.put(pageKey, stashed, src.fill);
      return stashed;
    }
    const fromPeer = src.peerPage ? await src.peerPage(pageKey, expected) : undefined;
    if (fromPeer) tier = 'peer';
    const fetched = fromPeer ?? (await readPageFromStore(src, index));
    if (src.keep) src.pages.put(pageKey, fetched, src.fill);
    return fetched;
  });
  return { data, tier };
}

async function readPageFromStore(src: PageSource, index: number): Promise<Buffer> {
  const start = index * src.pageSize;
  const length = pageLength(src, index);
  const timer = src.metrics.ufsReadSeconds.labels(src.store.kind).startTimer();
  src.metrics.ufsReads.labels(src.store.kind).inc();
  // No caller's AbortSignal: the read is shared by every joined reader and fills the cache.
  const stream = await src.store.read(src.key, { start, end: start + length - 1 }, { ifMatch: src.info.etag });
  try {
    return await collectPage(stream, length, src.idleTimeoutMs);
  } finally {
    timer();
  }
}

/**
 * Exactly `length` bytes of `stream` in one Buffer. A store that stops sending for `idleTimeoutMs`
 * must not hold the page (and everyone waiting for it) forever; one that sends more or less than
 * asked has another version than we think.
 */
export async function collectPage(stream: Readable, length: number, idleTimeoutMs: number): Promise<Buffer> {
  const page = Buffer.allocUnsafe(length);
  let filled = 0;
  const idle = setTimeout(() => stream.destroy(ufsError('Unavailable', `the store sent nothing for ${idleTimeoutMs} ms while a page was read`)), idleTimeoutMs);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      idle.refresh();
      if (filled + chunk.length > length) throw ufsError('Unavailable', 'the store returned more bytes than the range asked for');
      chunk.copy(page, filled);
      filled += chunk.length;
    }
  } finally {
    clearTimeout(idle);
    stream.destroy();
  }
  if (filled !== length) throw ufsError('Unavailable', `the store returned ${filled} of ${length} bytes of a page`);
  return page;
}

/**
 * The body of `range` (inclusive), whose first page is loaded before this resolves, so that
 * errors (not found, store down, version changed) surface before any header is sent.
 */
export async function openRange(src: PageSource, range: ByteRange, readAhead: number): Promise<RangeBody> {
  const first = Math.floor(range.start / src.pageSize);
  const firstPage = residentPage(src, first) ?? (await fetchPage(src, first));
  return rangeBody(src, range, readAhead, firstPage);
}

/** The body of `range` given its first page (already loaded). */
export function rangeBody(src: PageSource, range: ByteRange, readAhead: number, firstPage: LoadedPage): RangeBody {
  const firstIndex = Math.floor(range.start / src.pageSize);
  const lastIndex = Math.floor(range.end / src.pageSize);
  const served = src.metrics.bytesServedCells;
  const slice = (index: number, page: LoadedPage): Buffer => {
    const pageStart = index * src.pageSize;
    const from = Math.max(range.start, pageStart) - pageStart;
    const to = Math.min(range.end, pageStart + page.data.length - 1) - pageStart + 1;
    served.cell(page.tier).add(to - from);
    return from === 0 && to === page.data.length ? page.data : page.data.subarray(from, to);
  };
  if (firstIndex === lastIndex) return slice(firstIndex, firstPage);
  return new PageStream(src, firstIndex, lastIndex, readAhead, firstPage, slice);
}

/** Pages firstIndex..lastIndex in order: resident ones at once, missing ones with read-ahead. */
class PageStream extends Readable {
  private next: number;
  private readonly ahead = new Map<number, Promise<LoadedPage>>();
  private first: LoadedPage | undefined;

  constructor(
    private readonly src: PageSource,
    firstIndex: number,
    private readonly lastIndex: number,
    private readonly readAhead: number,
    firstPage: LoadedPage,
    private readonly slice: (index: number, page: LoadedPage) => Buffer,
  ) {
    super({ highWaterMark: 0 });
    this.next = firstIndex;
    this.first = firstPage;
  }

  override _read(): void {
    if (this.next > this.lastIndex) {
      this.push(null);
      return;
    }
    const index = this.next++;
    const ready = this.first ?? (this.ahead.has(index) ? undefined : residentPage(this.src, index));
    this.first = undefined;
    if (ready) {
      this.push(this.slice(index, ready));
      return;
    }
    // A miss: keep up to readAhead pages after it in flight while the client takes this one.
    for (let i = index; i <= Math.min(this.lastIndex, index + this.readAhead); i++) {
      if (this.ahead.has(i)) continue;
      const pending = loadPage(this.src, i);
      pending.catch(() => undefined); // awaited in order below; avoid unhandled rejections
      this.ahead.set(i, pending);
    }
    const pending = this.ahead.get(index) as Promise<LoadedPage>;
    this.ahead.delete(index);
    pending.then(
      (page) => {
        if (!this.destroyed) this.push(this.slice(index, page));
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.ahead.clear();
    callback(err);
  }
}
