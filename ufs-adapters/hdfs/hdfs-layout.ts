/**
 * Keys -> HDFS paths under the mount root, and where the adapter keeps its own state:
 *   <root>/.ringcache/tmp/<uuid>                  data of PUT/copy/complete before the rename
 *   <root>/.ringcache/uploads/<uploadId>/part-<n> multipart parts (the folder holds the upload record)
 *
 * Keys follow the local adapter's rules (shared/key-path.ts: no empty, "." or ".." segments, no
 * backslash or NUL, at most 1024 bytes, segments at most 255 bytes, ".ringcache" reserved),
 * plus what HDFS itself refuses (DFSUtil.isValidName, FSDirectory.verifyINodeName): no ":" in
 * any segment, no ".snapshot" segment, and no ".reserved" first segment when the root is "/".
 */
import { ufsError } from '../errors';
import { RESERVED_DIR, assertValidKey, isFolderKey, keySegments, segmentProblem, MAX_KEY_BYTES } from '../shared/key-path';
import { utf8Length } from '../utf8-order';

export interface HdfsLayout {
  /** Absolute, normalised HDFS path of the mount root ("/" or "/a/b", no trailing slash). */
  readonly root: string;
  readonly reservedDir: string;
  readonly tmpDir: string;
  readonly uploadsDir: string;
}

/** Joins an absolute HDFS directory path and a relative path. */
export const joinPath = (dir: string, rel: string): string => (rel === '' ? dir : dir === '/' ? `/${rel}` : `${dir}/${rel}`);

/** Parent of an absolute HDFS path ("/" for "/a"). */
export function parentOf(hdfsPath: string): string {
  const cut = hdfsPath.lastIndexOf('/');
  return cut <= 0 ? '/' : hdfsPath.slice(0, cut);
}

/** Normalises and checks an absolute HDFS root path. */
export function normaliseRoot(root: string): string {
  if (typeof root !== 'string' || !root.startsWith('/')) throw new TypeError('HdfsAdapter: the root must be an absolute HDFS path');
  const segments = root.split('/').filter((s) => s !== '');
  for (const s of segments) {
    if (s === '.' || s === '..' || s.includes(':')) throw new TypeError(`HdfsAdapter: invalid HDFS root path segment "${s}"`);
  }
  return `/${segments.join('/')}`;
}

export function layoutFor(root: string): HdfsLayout {
  const normalised = normaliseRoot(root);
  const reservedDir = joinPath(normalised, RESERVED_DIR);
  return { root: normalised, reservedDir, tmpDir: `${reservedDir}/tmp`, uploadsDir: `${reservedDir}/uploads` };
}

/** Why HDFS cannot hold this name (beyond the local adapter's rules), or undefined. */
function hdfsNameProblem(segment: string, isFirst: boolean, layout: HdfsLayout): string | undefined {
  if (segment.includes(':')) return "HDFS path names cannot contain ':'";
  if (segment === '.snapshot') return '".snapshot" is a reserved name in HDFS';
  if (isFirst && layout.root === '/' && segment === '.reserved') return '"/.reserved" is a reserved HDFS path';
  return undefined;
}

/** True when a directory entry `name` (in the folder `dirKey`) can be addressed by a key. */
export function isListableName(layout: HdfsLayout, dirKey: string, name: string, isDir: boolean): boolean {
  const isFirst = dirKey === '';
  if (segmentProblem(name, isFirst) !== undefined || hdfsNameProblem(name, isFirst, layout) !== undefined) return false;
  return utf8Length(dirKey) + utf8Length(name) + (isDir ? 1 : 0) <= MAX_KEY_BYTES;
}

export function assertValidHdfsKey(layout: HdfsLayout, key: string): void {
  assertValidKey(key);
  const segments = keySegments(key);
  segments.forEach((segment, i) => {
    const problem = hdfsNameProblem(segment, i === 0, layout);
    if (problem) throw ufsError('InvalidKey', problem);
  });
}

/** True when the folder key `dirKey` ("a/b/") could hold objects. */
export function isValidDirKey(layout: HdfsLayout, dirKey: string): boolean {
  try {
    assertValidHdfsKey(layout, dirKey);
    return true;
  } catch {
    return false;
  }
}

/** HDFS path of a key: the file of "a/b", the directory of the folder marker "a/b/". */
export function pathOfKey(layout: HdfsLayout, key: string): string {
  assertValidHdfsKey(layout, key);
  return joinPath(layout.root, keySegments(key).join('/'));
}

/** HDFS path of a folder key ("" for the root, else ending in "/"). */
export const dirPathOf = (layout: HdfsLayout, dirKey: string): string => (dirKey === '' ? layout.root : joinPath(layout.root, dirKey.slice(0, -1)));

export { isFolderKey };
