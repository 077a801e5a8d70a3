/**
 * A preload's pages: every page of one object version not already held is read, a few at a
 * time, through the shared page reads (a page another reader is loading is joined).
 */
import { untilAborted } from '../util/until-aborted';
import { loadPage, type PageSource } from './page-reader';
import { pageKeyOf } from './types';

/**
 * Loads the pages of `source` this node does not hold, `parallel` at a time, adding each page's
 * length to `result.bytesLoaded` (read from the store or a peer) or `result.bytesSkipped`
 * (held already, or found in a tier meanwhile).
 */
export async function loadMissingPages(
  source: PageSource,
  parallel: number,
  result: { bytesLoaded: number; bytesSkipped: number },
  signal: AbortSignal | undefined,
): Promise<void> {
  const { info } = source;
  const pageCount = Math.ceil(info.size / source.pageSize);
  const pageLength = (index: number): number => Math.min(info.size, (index + 1) * source.pageSize) - index * source.pageSize;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < pageCount) {
      signal?.throwIfAborted();
      const index = next++;
      if (source.pages.has(pageKeyOf(source.objectId, index))) {
        result.bytesSkipped += pageLength(index);
        continue;
      }
      // The shared page read goes on for other readers; this caller stops waiting on abort.
      const { tier } = await untilAborted(loadPage(source, index), signal);
      if (tier === 'ufs' || tier === 'peer') result.bytesLoaded += pageLength(index);
      else result.bytesSkipped += pageLength(index);
    }
  };
  const workers = Math.min(pageCount, parallel);
  await Promise.all(Array.from({ length: workers }, worker));
}
