/**
 * Depth-first walk of a directory tree in S3 key order (UTF-8 bytes), lazily.
 *
 * Within a directory, a subdirectory `d` sorts as "d/": every key below it starts with
 * "d/", so visiting children in that order and descending in place yields keys in global
 * byte order. Only the current directory listing of each depth is held in memory (one
 * huge flat directory necessarily holds all its names).
 *
 * Symlinks, special files, names that are not valid UTF-8 or not valid key segments, and
 * the reserved `.ringcache` folder at the root are skipped.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { isMissing, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { MAX_KEY_BYTES, segmentProblem } from '../shared/key-path';
import { compareUtf8, isAfter, utf8Length } from '../utf8-order';

export type WalkItem =
  /** A regular file: a candidate object. */
  | { type: 'file'; key: string; path: string }
  /** A directory, key ending in "/": maybe a folder marker, maybe a common prefix. */
  | { type: 'folder'; key: string; path: string };

interface WalkOptions {
  /** Only items whose key sorts strictly after this (subtrees entirely before it are not entered). */
  startAfter?: string;
  signal?: AbortSignal;
  /** true: descend into folders (each folder item comes right before its contents); false: stay in the start folder. */
  descend: boolean;
}

interface Child {
  name: string;
  /** UTF-8 bytes of the name, plus "/" for directories: the sort key. */
  sortKey: Buffer;
  isDir: boolean;
}

const SLASH = Buffer.from('/');

/** Decodes a raw file name; undefined when it is not valid UTF-8 (it could never be addressed by key). */
function decodeName(raw: Buffer): string | undefined {
  const name = raw.toString('utf8');
  return Buffer.from(name, 'utf8').equals(raw) ? name : undefined;
}

/** Valid children of one directory whose names start with `namePrefix`, in key order. */
async function readSortedChildren(dirPath: string, dirKey: string, namePrefix: string): Promise<Child[]> {
  let entries;
  try {
    entries = await readdir(dirPath, { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    if (isMissing(err)) return [];
    throw mapFsError(err, 'list objects');
  }
  const children: Child[] = [];
  for (const entry of entries) {
    const isDir = entry.isDirectory();
    if (!isDir && !entry.isFile()) continue; // symlinks, sockets, devices, ...
    const name = decodeName(entry.name);
    if (name === undefined || !name.startsWith(namePrefix)) continue;
    if (segmentProblem(name, dirKey === '') !== undefined) continue;
    if (utf8Length(dirKey) + entry.name.length + (isDir ? 1 : 0) > MAX_KEY_BYTES) continue;
    children.push({ name, isDir, sortKey: isDir ? Buffer.concat([entry.name, SLASH]) : entry.name });
  }
  return children.sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
}

/** Every key below `folderKey` is <= startAfter: the subtree can be skipped without reading it. */
const subtreeIsBefore = (folderKey: string, startAfter: string | undefined): boolean =>
  startAfter !== undefined && compareUtf8(folderKey, startAfter) < 0 && !startAfter.startsWith(folderKey);

/**
 * Walks `dirPath` (whose key is `dirKey`: "" for the root, else ending in "/"), visiting
 * only children whose names start with `namePrefix`.
 */
export async function* walkSorted(dirPath: string, dirKey: string, namePrefix: string, options: WalkOptions): AsyncGenerator<WalkItem> {
  throwIfAborted(options.signal);
  const { startAfter } = options;
  for (const child of await readSortedChildren(dirPath, dirKey, namePrefix)) {
    throwIfAborted(options.signal);
    const childPath = path.join(dirPath, child.name);
    if (!child.isDir) {
      const key = dirKey + child.name;
      if (isAfter(key, startAfter)) yield { type: 'file', key, path: childPath };
      continue;
    }
    const key = `${dirKey}${child.name}/`;
    if (!options.descend) {
      if (isAfter(key, startAfter)) yield { type: 'folder', key, path: childPath };
      continue;
    }
    if (subtreeIsBefore(key, startAfter)) continue;
    if (isAfter(key, startAfter)) yield { type: 'folder', key, path: childPath };
    yield* walkSorted(childPath, key, '', options);
  }
}
