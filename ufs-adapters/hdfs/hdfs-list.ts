/**
 * ListObjects over LISTSTATUS_BATCH. One directory level at a time is read page by page
 * (the NameNode's dfs.ls.limit entries per page, `startAfter` = last name of the previous
 * page), re-ordered into S3 order (hdfs-order.ts), and walked depth-first: a folder "d"
 * is entered at the position of "d/", so keys come out in global UTF-8 order while only one
 * page per depth is held. Each object costs a GETXATTRS for its ETag (up to `lookahead` in
 * flight). Servers without LISTSTATUS_BATCH (before Hadoop 2.9) are read with LISTSTATUS,
 * one whole directory per request.
 */
import type { ListEntry, ListOptions } from '../types';
import { isAfter, compareUtf8 } from '../utf8-order';
import { mapAheadDefined } from '../shared/ordered-prefetch';
import { rollUp } from '../shared/roll-up';
import { splitListPrefix } from '../shared/key-path';
import type { HdfsContext } from './hdfs-context';
import { hdfsError, isRemote } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import { dirPathOf, isListableName, isValidDirKey, joinPath } from './hdfs-layout';
import { META_XATTR, decodeObjectRecord, fileObjectInfo } from './hdfs-metadata';
import { isMissing, lookup, recordOf, statusOf, xattrsOf } from './hdfs-object';
import { MinHeap, compareSignedNames, seekPast, watermarkOf } from './hdfs-order';
import type { DirectoryBatch, FileStatus } from './webhdfs-client';

/** One page of a directory, in the NameNode's order; undefined when the directory is missing. */
async function fetchPage(ctx: HdfsContext, dirPath: string, startAfter: string | undefined, signal?: AbortSignal): Promise<DirectoryBatch | undefined> {
  try {
    if (ctx.listStatusBatch) {
      try {
        return await ctx.client.listStatusBatch(dirPath, startAfter, signal);
      } catch (err) {
        // Before Hadoop 2.9: "Invalid value for webhdfs parameter op" (400).
        if (!isRemote(err, 'IllegalArgumentException', 'UnsupportedOperationException')) throw err;
        ctx.listStatusBatch = false;
      }
    }
    return { entries: await ctx.client.listStatus(dirPath, signal), remaining: 0 };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw hdfsError(err, 'list objects');
  }
}

/** Every entry of a directory in the NameNode's order, page by page (nothing when missing or a file). */
export async function* directoryEntries(ctx: HdfsContext, dirPath: string, signal?: AbortSignal): AsyncGenerator<FileStatus> {
  let cursor: string | undefined;
  for (;;) {
    throwIfAborted(signal);
    const page = await fetchPage(ctx, dirPath, cursor, signal);
    if (!page) return;
    let progressed = false;
    for (const entry of page.entries) {
      if (entry.pathSuffix === '') return; // the path is a file
      if (cursor !== undefined && compareSignedNames(entry.pathSuffix, cursor) <= 0) continue;
      progressed = true;
      yield entry;
    }
    // A server that ignores startAfter would otherwise be asked the same page forever.
    if (page.remaining <= 0 || !progressed || !ctx.listStatusBatch) return;
    cursor = page.entries[page.entries.length - 1].pathSuffix;
  }
}

interface Child {
  name: string;
  status: FileStatus;
  isDir: boolean;
  /** UTF-8 bytes of the name, plus "/" for folders: the S3 sort key. */
  sortKey: Buffer;
  /** For a folder whose keys are only partly after startAfter: the startAfter inside it. */
  innerStartAfter?: string;
}

/** One folder of a listing: the folder `dirPath` (key `dirKey`), names starting with `namePrefix`, keys after `startAfter` (relative to the folder). */
interface FolderQuery {
  dirPath: string;
  dirKey: string;
  namePrefix: string;
  startAfter: string | undefined;
}

/** Children of the folder that match the query, lazily and in S3 order. */
async function* sortedChildren(ctx: HdfsContext, query: FolderQuery, signal?: AbortSignal): AsyncGenerator<Child> {
  const { dirPath, dirKey } = query;
  const p = query.namePrefix;
  let s = query.startAfter;
  if (s !== undefined && compareUtf8(s, p) < 0) s = undefined; // every name with the prefix sorts after it
  if (s !== undefined && !s.startsWith(p)) return; // every name with the prefix sorts before it

  const classify = (name: string, status: FileStatus): Child | undefined => {
    const isDir = status.type === 'DIRECTORY';
    if (!isDir && status.type !== 'FILE') return undefined; // symlinks
    if (!name.startsWith(p) || !isListableName(ctx.layout, dirKey, name, isDir)) return undefined;
    const sortKey = Buffer.from(isDir ? `${name}/` : name, 'utf8');
    const child: Child = { name, status, isDir, sortKey };
    if (s === undefined) return child;
    if (!isDir) return compareUtf8(name, s) > 0 ? child : undefined;
    if (compareUtf8(`${name}/`, s) > 0) return child;
    if (s.startsWith(`${name}/`)) return { ...child, innerStartAfter: s.slice(name.length + 1) };
    return undefined;
  };

  const heap = new MinHeap<Child>((a, b) => Buffer.compare(a.sortKey, b.sortKey));
  const probe = async (name: string): Promise<void> => {
    const status = await statusOf(ctx, joinPath(dirPath, name), signal);
    const child = status && classify(name, { ...status, pathSuffix: name });
    if (child) heap.push(child);
  };

  // Names with the prefix come after the name `p` itself in HDFS order (which startAfter=p skips).
  let cursor: string | undefined;
  if (p !== '') {
    cursor = p;
    const asDir = { length: 0, modificationTime: 0, pathSuffix: p, type: 'DIRECTORY' as const };
    if (classify(p, { ...asDir, type: 'FILE' }) || classify(p, asDir)) await probe(p);
  }

  for (;;) {
    throwIfAborted(signal);
    const page = await fetchPage(ctx, dirPath, cursor, signal);
    if (!page) return;
    let last: string | undefined;
    let passedPrefix = false;
    for (const status of page.entries) {
      const name = status.pathSuffix;
      if (name === '') return; // the path is a file, not a folder
      if (cursor !== undefined && compareSignedNames(name, cursor) <= 0) continue; // LISTSTATUS ignores startAfter
      if (p !== '' && !name.startsWith(p)) {
        passedPrefix = true;
        break;
      }
      last = name;
      const child = classify(name, status);
      if (child) heap.push(child);
      const mark = watermarkOf(name);
      while (heap.size > 0 && Buffer.compare((heap.peek() as Child).sortKey, mark) <= 0) yield heap.pop() as Child;
    }
    if (passedPrefix || page.remaining <= 0 || page.entries.length === 0 || !ctx.listStatusBatch || last === undefined) break;
    cursor = last;
    const seek = s === undefined ? undefined : seekPast(last, s);
    if (seek && compareSignedNames(seek.startAfter, cursor) > 0) {
      cursor = seek.startAfter;
      if (seek.probe !== undefined) await probe(seek.probe);
    }
  }
  while (heap.size > 0) yield heap.pop() as Child;
}

type WalkItem = { type: 'file' | 'folder'; key: string; path: string; status: FileStatus };

/** Depth-first walk in S3 order: each folder item comes right before its contents. */
async function* walk(ctx: HdfsContext, query: FolderQuery, signal?: AbortSignal): AsyncGenerator<WalkItem> {
  const { dirPath, dirKey } = query;
  for await (const child of sortedChildren(ctx, query, signal)) {
    const childPath = joinPath(dirPath, child.name);
    if (!child.isDir) {
      yield { type: 'file', key: dirKey + child.name, path: childPath, status: child.status };
      continue;
    }
    const key = `${dirKey}${child.name}/`;
    if (child.innerStartAfter === undefined) yield { type: 'folder', key, path: childPath, status: child.status };
    yield* walk(ctx, { dirPath: childPath, dirKey: key, namePrefix: '', startAfter: child.innerStartAfter }, signal);
  }
}

async function fileEntry(ctx: HdfsContext, key: string, path: string, status: FileStatus, signal?: AbortSignal): Promise<ListEntry> {
  const record = decodeObjectRecord((await xattrsOf(ctx, path, signal))?.get(META_XATTR));
  const info = fileObjectInfo(key, status, record);
  return { kind: 'object', key, size: info.size, etag: info.etag, lastModified: info.lastModified };
}

async function markerEntry(ctx: HdfsContext, key: string, path: string, signal?: AbortSignal): Promise<ListEntry | undefined> {
  const record = await recordOf(ctx, path, signal);
  return record && { kind: 'object', key, size: 0, etag: record.etag, lastModified: new Date(record.mtime) };
}

/** A folder is a common prefix only if it holds an object or a folder marker (checked lazily). */
async function holdsAnyObject(ctx: HdfsContext, path: string, key: string, status: FileStatus | undefined, signal?: AbortSignal): Promise<boolean> {
  if (await recordOf(ctx, path, signal)) return true;
  if (status?.childrenNum === 0) return false;
  for await (const entry of directoryEntries(ctx, path, signal)) {
    const isDir = entry.type === 'DIRECTORY';
    if (!isListableName(ctx.layout, key, entry.pathSuffix, isDir)) continue;
    if (entry.type === 'FILE') return true;
    if (isDir && (await holdsAnyObject(ctx, joinPath(path, entry.pathSuffix), `${key}${entry.pathSuffix}/`, entry, signal))) return true;
  }
  return false;
}

export async function* listObjects(ctx: HdfsContext, options: ListOptions): AsyncGenerator<ListEntry> {
  const { delimiter, signal } = options;
  const split = splitListPrefix(options.prefix);
  if (!split) return;
  const { dirKey, namePrefix } = split;
  if (dirKey !== '' && !isValidDirKey(ctx.layout, dirKey)) return;
  const dirPath = dirPathOf(ctx.layout, dirKey);
  const startAfter = options.startAfter;

  // The folder holding the prefix is itself an object when the prefix names it exactly.
  if (namePrefix === '' && dirKey !== '' && isAfter(dirKey, startAfter)) {
    const found = await lookup(ctx, dirPath, signal);
    if (found?.status.type === 'DIRECTORY' && found.record) {
      yield { kind: 'object', key: dirKey, size: 0, etag: found.record.etag, lastModified: new Date(found.record.mtime) };
    }
  }

  // startAfter relative to the folder; a startAfter past the whole folder leaves nothing.
  let relative: string | undefined;
  if (startAfter !== undefined && startAfter.startsWith(dirKey)) relative = startAfter.slice(dirKey.length);
  else if (startAfter !== undefined && compareUtf8(startAfter, dirKey) > 0) return;

  const query: FolderQuery = { dirPath, dirKey, namePrefix, startAfter: relative };
  if (delimiter === '/') {
    const resolve = async (child: Child): Promise<ListEntry | undefined> => {
      const childPath = joinPath(dirPath, child.name);
      if (!child.isDir) return fileEntry(ctx, dirKey + child.name, childPath, child.status, signal);
      if (child.innerStartAfter !== undefined) return undefined; // its prefix sorts before startAfter
      const prefix = `${dirKey}${child.name}/`;
      return (await holdsAnyObject(ctx, childPath, prefix, child.status, signal)) ? { kind: 'prefix', prefix } : undefined;
    };
    yield* mapAheadDefined(sortedChildren(ctx, query, signal), ctx.lookahead, resolve);
    return;
  }

  const resolve = (item: WalkItem): Promise<ListEntry | undefined> =>
    item.type === 'file' ? fileEntry(ctx, item.key, item.path, item.status, signal) : markerEntry(ctx, item.key, item.path, signal);
  const entries = mapAheadDefined(walk(ctx, query, signal), ctx.lookahead, resolve);
  yield* delimiter ? rollUp(entries, { ...options, delimiter }) : entries;
}

