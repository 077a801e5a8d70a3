/**
 * list: ListObjectsV2 pages fetched lazily (the next page only when the consumer asks for an
 * entry beyond the current one), with Prefix, Delimiter and StartAfter pushed down.
 */
import { ListObjectsV2Command, type ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import type { ListEntry, ListOptions } from '../types';
import { compareUtf8 } from '../utf8-order';
import { SETTINGS_FOLDER, decodeListedKey, quoteEtag, type S3Context } from './s3-context';
import { throwIfAborted } from '../shared/abort';

const PAGE_SIZE = 1000;

const entryName = (entry: ListEntry): string => (entry.kind === 'object' ? entry.key : entry.prefix);

/** The entries of one page under the mount prefix, in UTF-8 byte order. */
function pageEntries(ctx: S3Context, page: ListObjectsV2CommandOutput): ListEntry[] {
  const entries: ListEntry[] = [];
  for (const object of page.Contents ?? []) {
    if (object.Key === undefined) continue;
    const key = ctx.gatewayKey(decodeListedKey(object.Key, page.EncodingType));
    if (key === undefined || key === '') continue;
    entries.push({
      kind: 'object',
      key,
      size: Number(object.Size ?? 0),
      etag: quoteEtag(object.ETag),
      lastModified: object.LastModified ?? new Date(0),
    });
  }
  for (const common of page.CommonPrefixes ?? []) {
    if (common.Prefix === undefined) continue;
    const prefix = ctx.gatewayKey(decodeListedKey(common.Prefix, page.EncodingType));
    if (prefix === undefined || prefix === '') continue;
    entries.push({ kind: 'prefix', prefix });
  }
  // S3 sends both lists sorted, but as two lists: merge them. Sorting the (at most 1000)
  // entries also repairs stores whose order is not UTF-8 byte order within a page.
  return entries.sort((a, b) => compareUtf8(entryName(a), entryName(b)));
}

export async function* listObjects(ctx: S3Context, options: ListOptions): AsyncGenerator<ListEntry> {
  const { prefix, delimiter, startAfter, signal } = options;
  const storePrefix = ctx.config.keyPrefix + prefix;
  // Entries must come strictly after `startAfter`, and strictly after what was already
  // yielded (a store that repeats a common prefix on the next page must not duplicate it).
  let floor = startAfter;
  let continuationToken: string | undefined;
  let first = true;
  while (first || continuationToken !== undefined) {
    throwIfAborted(signal, 'list objects');
    const page: ListObjectsV2CommandOutput = await ctx.call('list objects', signal, () =>
      ctx.client.send(
        new ListObjectsV2Command({
          Bucket: ctx.bucket,
          Prefix: storePrefix || undefined,
          Delimiter: delimiter || undefined,
          StartAfter: first && startAfter !== undefined && startAfter !== '' ? ctx.config.keyPrefix + startAfter : undefined,
          ContinuationToken: continuationToken,
          MaxKeys: PAGE_SIZE,
          EncodingType: 'url',
        }),
        { abortSignal: signal },
      ),
    );
    first = false;
    for (const entry of pageEntries(ctx, page)) {
      const name = entryName(entry);
      if (!name.startsWith(prefix) || name.startsWith(SETTINGS_FOLDER)) continue; // the bucket's settings are not objects
      if (floor !== undefined && compareUtf8(name, floor) <= 0) continue;
      floor = name;
      yield entry;
    }
    const next = page.IsTruncated ? page.NextContinuationToken : undefined;
    // A store that hands back the token it was given would loop forever.
    continuationToken = next !== undefined && next !== continuationToken ? next : undefined;
  }
}
