/**
 * Serves a byte range of one object version page by page: each page comes from the page
 * store (memory, then LMDB) or, on a miss, from one ranged UFS read shared by every
 * concurrent reader of that page (single-flight). A sequential reader keeps a bounded
 * window of pages in flight ahead of the client (read-ahead); the client's pace drives
 * everything else, so memory per reader is at most (readAhead + 1) pages.
 */
import { Readable } from 'node:stream';
import type { ByteRange, ObjectInfo, UfsAdapter } from '../../ufs-adapters/types';
import { ufsError } from '../../ufs-adapters/errors';
import type { Metrics } from '../admin/metrics';
import type { SingleFlight } from './single-flight';
import { pageKeyOf, type PageLookup, type PageStore, type Tier } from './types';

export interface LoadedPage {
  data: Buffer;
  /** Where it came from: this node's tiers, the store ('ufs'), or the previous owner ('peer'). */
  tier: Tier | 'peer';
}

export interface PageSource {
  /** false: pages read from the store are served but not kept (failover reads on a non-owner). */
  store: boolean;
  /** The store read of a page fails when no byte arrives for this long. */
  idleTimeoutMs: number;
  /** Another node that may hold the page (warm hand-off); undefined when there is none. */
  peerPage?: (pageKey: string, length: number) => Promise<Buffer | undefined>;
  inner: UfsAdapter;
  key: string;
  info: ObjectInfo;
  objectId: string;
  pageSize: number;
  pages: PageStore;
  flights: SingleFlight<Buffer>;
  metrics: Metrics;
}

/** One page: from the store, or read once from the UFS and stored. */
export async function loadPage(src: PageSource, index: number): Promise<LoadedPage> {
  const pageKey = pageKeyOf(src.objectId, index);
  const expected = pageLength(src, index);
  // A page of another length was not cut for this read (it cannot be one): a miss.
  const lookup = (): PageLookup | undefined => {
    const found = src.pages.get(pageKey);
    return found && found.data.length === expected ? found : undefined;
  };
  const cached = lookup();
  if (cached) {
    src.metrics.cachePageLookups.labels(cached.tier).inc();
    return cached;
  }
  src.metrics.cachePageLookups.labels('miss').inc();
  let tier: LoadedPage['tier'] = 'ufs';
  const data = await src.flights.run(pageKey, async () => {
    const again = lookup(); // filled by a flight that ended while we looked
    if (again) return again.data;
    const fromPeer = src.peerPage ? await src.peerPage(pageKey, expected) : undefined;
    if (fromPeer) tier = 'peer';
    const fetched = fromPeer ?? (await readPageFromUfs(src, index));
    if (src.store) src.pages.put(pageKey, fetched);
    return fetched;
  });
  return { data, tier };
}

const pageLength = (src: PageSource, index: number): number => Math.min(src.info.size, (index + 1) * src.pageSize) - index * src.pageSize;

async function readPageFromUfs(src: PageSource, index: number): Promise<Buffer> {
  const start = index * src.pageSize;
  const end = Math.min(src.info.size, start + src.pageSize) - 1;
  const length = end - start + 1;
  const timer = src.metrics.ufsReadSeconds.labels(src.inner.kind).startTimer();
  src.metrics.ufsReads.labels(src.inner.kind).inc();
  // No caller's AbortSignal: the read is shared by every joined reader and fills the cache.
  const stream = await src.inner.read(src.key, { start, end }, { ifMatch: src.info.etag });
  const page = Buffer.allocUnsafe(length);
  let filled = 0;
  // A store that stops sending must not hold the page (and everyone waiting for it) forever.
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => stream.destroy(ufsError('Unavailable', `the store sent nothing for ${src.idleTimeoutMs} ms while a page was read`)), src.idleTimeoutMs);
  };
  arm();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      arm();
      if (filled + chunk.length > length) throw ufsError('Unavailable', 'the store returned more bytes than the range asked for');
      chunk.copy(page, filled);
      filled += chunk.length;
    }
  } finally {
    clearTimeout(idle);
    stream.destroy();
    timer();
  }
  if (filled !== length) throw ufsError('Unavailable', `the store returned ${filled} of ${length} bytes of a page`);
  return page;
}

/**
 * A stream of `range` (inclusive), whose first page is already loaded so that errors
 * (not found, store down, version changed) surface before any header is sent.
 */
export async function openRangeStream(src: PageSource, range: ByteRange, readAhead: number): Promise<Readable> {
  const firstPage = Math.floor(range.start / src.pageSize);
  const lastPage = Math.floor(range.end / src.pageSize);
  const window = new Map<number, Promise<LoadedPage>>();
  const schedule = (from: number): void => {
    for (let i = from; i <= Math.min(lastPage, from + readAhead); i++) {
      if (!window.has(i)) {
        const p = loadPage(src, i);
        p.catch(() => undefined); // awaited in order below; avoid unhandled rejections
        window.set(i, p);
      }
    }
  };
  schedule(firstPage);
  await window.get(firstPage);

  let next = firstPage;
  return new Readable({
    highWaterMark: 0,
    read() {
      if (next > lastPage) {
        this.push(null);
        return;
      }
      const index = next++;
      schedule(index);
      const pending = window.get(index) as Promise<LoadedPage>;
      window.delete(index);
      pending.then(
        ({ data, tier }) => {
          const pageStart = index * src.pageSize;
          const from = Math.max(range.start, pageStart) - pageStart;
          const to = Math.min(range.end, pageStart + data.length - 1) - pageStart + 1;
          src.metrics.cacheBytesServed.labels(tier).inc(to - from);
          this.push(data.subarray(from, to));
        },
        (err) => this.destroy(err),
      );
    },
    destroy(err, callback) {
      window.clear();
      callback(err);
    },
  });
}
