/**
 * list(): objects.list one page at a time (autoPaginate off, maxResults 1000), fetched only
 * when the consumer asks for more. GCS returns a page's objects (`items`) and common prefixes
 * (`prefixes`) in two separate sorted arrays; they are merged in UTF-8 byte order.
 *
 * - `startAfter` becomes `startOffset` (inclusive in GCS); entries not strictly after it are
 *   dropped (the exact match, and a common prefix that sorts before it).
 * - The adapter's reserved folders are hidden. When a page reaches an object inside one
 *   (a listing without "/" as delimiter), the listing restarts right after the folder with a
 *   new startOffset instead of paging through its temporaries.
 * - A common prefix repeated at a page boundary is yielded once.
 */
import type { FileMetadata } from '@google-cloud/storage';
import type { ListEntry, ListOptions } from '../types';
import { compareUtf8, isAfter } from '../utf8-order';
import type { GcsContext } from './gcs-context';
import { mapGcsError } from './gcs-errors';
import { throwIfAborted } from '../shared/abort';
import { etagOf } from './gcs-metadata';
import { afterFolder, reservedFolderOf } from './gcs-names';

interface ListPage {
  items: FileMetadata[];
  prefixes: string[];
  nextPageToken?: string;
}

interface ListQuery {
  prefix: string;
  delimiter?: string;
  startOffset?: string;
  pageToken?: string;
}

/** One objects.list call (names are full object names, not keys). */
export async function listPage(ctx: GcsContext, query: ListQuery, action = 'list objects'): Promise<ListPage> {
  try {
    const [, , response] = await ctx.bucket.getFiles({
      prefix: query.prefix,
      ...(query.delimiter !== undefined ? { delimiter: query.delimiter } : {}),
      ...(query.startOffset !== undefined ? { startOffset: query.startOffset } : {}),
      ...(query.pageToken !== undefined ? { pageToken: query.pageToken } : {}),
      maxResults: ctx.listPageSize,
      autoPaginate: false,
    });
    const body = (response ?? {}) as { items?: FileMetadata[]; prefixes?: string[]; nextPageToken?: string };
    return { items: body.items ?? [], prefixes: body.prefixes ?? [], nextPageToken: body.nextPageToken || undefined };
  } catch (err) {
    throw mapGcsError(err, action);
  }
}

/** All objects below `prefix` (no delimiter), page by page. */
export async function* listAllObjects(ctx: GcsContext, prefix: string, action?: string): AsyncGenerator<FileMetadata> {
  let pageToken: string | undefined;
  do {
    const page = await listPage(ctx, { prefix, pageToken }, action);
    yield* page.items;
    pageToken = page.nextPageToken;
  } while (pageToken);
}

/** A page's items and prefixes as one sequence in UTF-8 order of the full name. */
function mergePage(page: ListPage): Array<{ name: string; item?: FileMetadata }> {
  const merged: Array<{ name: string; item?: FileMetadata }> = [
    ...page.items.map((item) => ({ name: String(item.name), item })),
    ...page.prefixes.map((prefix) => ({ name: prefix })),
  ];
  return merged.sort((a, b) => compareUtf8(a.name, b.name));
}

export async function* listObjects(ctx: GcsContext, options: ListOptions): AsyncGenerator<ListEntry> {
  const { names } = ctx;
  const { delimiter, startAfter, signal } = options;
  const prefix = names.objectName(options.prefix);
  let startOffset = startAfter !== undefined ? names.objectName(startAfter) : undefined;
  let pageToken: string | undefined;
  let lastPrefix: string | undefined;
  for (;;) {
    throwIfAborted(signal);
    const page = await listPage(ctx, { prefix, delimiter: delimiter || undefined, startOffset, pageToken });
    let restartAt: string | undefined;
    for (const { name, item } of mergePage(page)) {
      const key = names.keyOf(name);
      const reserved = reservedFolderOf(key);
      if (reserved) {
        const candidate = names.objectName(afterFolder(reserved));
        if (item && (startOffset === undefined || compareUtf8(candidate, startOffset) > 0)) {
          restartAt = candidate;
          break;
        }
        continue; // the folder itself as a common prefix (or an object we cannot skip past)
      }
      if (!isAfter(key, startAfter)) continue;
      if (item) {
        yield { kind: 'object', key, size: Number(item.size ?? 0), etag: etagOf(item), lastModified: new Date(item.updated ?? item.timeCreated ?? 0) };
      } else if (key !== lastPrefix) {
        lastPrefix = key;
        yield { kind: 'prefix', prefix: key };
      }
    }
    if (restartAt !== undefined) {
      startOffset = restartAt;
      pageToken = undefined;
      continue;
    }
    if (!page.nextPageToken) return;
    pageToken = page.nextPageToken;
  }
}
