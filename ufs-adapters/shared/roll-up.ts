/**
 * Common prefixes for a delimiter the store cannot group by itself: the file-system adapters
 * group "/" natively and any other delimiter here, over a flat listing in key order.
 */
import type { ListEntry, ListOptions } from '../types';
import { isAfter } from '../utf8-order';

/** Keys containing the delimiter after the prefix collapse into one prefix entry each. */
export async function* rollUp(entries: AsyncIterable<ListEntry>, options: ListOptions & { delimiter: string }): AsyncGenerator<ListEntry> {
  let lastPrefix: string | undefined;
  for await (const entry of entries) {
    if (entry.kind !== 'object') continue;
    const cut = entry.key.indexOf(options.delimiter, options.prefix.length);
    if (cut < 0) {
      yield entry;
      continue;
    }
    // Keys sharing a prefix are contiguous in key order: emit it once.
    const common = entry.key.slice(0, cut + options.delimiter.length);
    if (common === lastPrefix) continue;
    lastPrefix = common;
    if (isAfter(common, options.startAfter)) yield { kind: 'prefix', prefix: common };
  }
}
