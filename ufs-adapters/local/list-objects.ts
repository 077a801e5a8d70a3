/**
 * ListObjects over the sorted walk: starts in the folder that contains the prefix, turns
 * walk items into entries (sidecar or synthetic metadata), and rolls up common prefixes.
 * Delimiter "/" never descends; other delimiters are rolled up generically (correct, but
 * they read every key below the prefix).
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import type { ListEntry, ListOptions } from '../types';
import { isPlainDirectory } from './containment';
import { isMissing, mapFsError } from './fs-errors';
import { keySegments, splitListPrefix } from '../shared/key-path';
import type { LocalContext } from './local-context';
import { fileObjectInfo, readSidecar } from './sidecar-metadata';
import { mapAheadDefined } from '../shared/ordered-prefetch';
import { rollUp } from '../shared/roll-up';
import { walkSorted, type WalkItem } from './sorted-walk';
import { isAfter } from '../utf8-order';

async function markerEntry(ctx: LocalContext, key: string): Promise<ListEntry | undefined> {
  const record = await readSidecar(ctx.layout, key);
  return record && { kind: 'object', key, size: 0, etag: record.etag, lastModified: new Date(record.mtimeMs) };
}

async function fileEntry(ctx: LocalContext, key: string, filePath: string): Promise<ListEntry | undefined> {
  let stats;
  try {
    stats = await lstat(filePath);
  } catch (err) {
    if (isMissing(err)) return undefined; // deleted since the directory was read
    throw mapFsError(err, 'list objects');
  }
  if (!stats.isFile()) return undefined;
  const info = fileObjectInfo(key, stats, await readSidecar(ctx.layout, key));
  return { kind: 'object', key, size: info.size, etag: info.etag, lastModified: info.lastModified };
}

const toEntry = (ctx: LocalContext, item: WalkItem): Promise<ListEntry | undefined> =>
  item.type === 'file' ? fileEntry(ctx, item.key, item.path) : markerEntry(ctx, item.key);

/** How many entries are resolved ahead of the consumer (bounded memory, hides NFS latency). */
const LOOKAHEAD = 16;

/** A folder is a common prefix only if it holds at least one object or marker (checked lazily). */
async function holdsAnyObject(ctx: LocalContext, folder: WalkItem, signal: AbortSignal | undefined): Promise<boolean> {
  if (await readSidecar(ctx.layout, folder.key)) return true;
  for await (const item of walkSorted(folder.path, folder.key, '', { descend: true, signal })) {
    if (item.type === 'file' || (await readSidecar(ctx.layout, item.key))) return true;
  }
  return false;
}

export async function* listObjects(ctx: LocalContext, options: ListOptions): AsyncGenerator<ListEntry> {
  const { delimiter, startAfter, signal } = options;
  // A missing root is an unavailable store, not an empty bucket.
  await ctx.assertRoot();
  const split = splitListPrefix(options.prefix);
  if (!split || !(await isPlainDirectory(ctx, split.dirKey))) return;
  const { dirKey, namePrefix } = split;
  const dirPath = dirKey === '' ? ctx.layout.root : path.join(ctx.layout.root, ...keySegments(dirKey));

  // The folder holding the prefix is itself an object when the prefix names it exactly.
  if (namePrefix === '' && dirKey !== '' && isAfter(dirKey, startAfter)) {
    const marker = await markerEntry(ctx, dirKey);
    if (marker) yield marker;
  }

  if (delimiter === '/') {
    const items = walkSorted(dirPath, dirKey, namePrefix, { descend: false, startAfter, signal });
    const resolve = async (item: WalkItem): Promise<ListEntry | undefined> =>
      item.type === 'file'
        ? fileEntry(ctx, item.key, item.path)
        : (await holdsAnyObject(ctx, item, signal))
          ? { kind: 'prefix', prefix: item.key }
          : undefined;
    yield* mapAheadDefined(items, LOOKAHEAD, resolve);
    return;
  }
  const entries = mapAheadDefined(walkSorted(dirPath, dirKey, namePrefix, { descend: true, startAfter, signal }), LOOKAHEAD, (item) => toEntry(ctx, item));
  yield* delimiter ? rollUp(entries, { ...options, delimiter }) : entries;
}
