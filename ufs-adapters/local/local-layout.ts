/**
 * Where things live under a mount root. Everything the adapter owns is under the
 * reserved `<root>/.ringcache/` folder, on the same file system as the data, so renames
 * from it into place are atomic.
 */
import path from 'node:path';
import { ufsError } from '../errors';
import { RESERVED_DIR, assertValidKey, keySegments } from '../shared/key-path';

export interface LocalLayout {
  /** Absolute, normalised mount root (as configured; may itself be a symlink). */
  readonly root: string;
  readonly reservedDir: string;
  /** Sidecar metadata: `<metaDir>/<key>.meta.json`, or `<metaDir>/<dir>/.meta.json` for "dir/". */
  readonly metaDir: string;
  /** Temporary files, renamed into place on commit. */
  readonly tmpDir: string;
  /** One folder per multipart upload. */
  readonly uploadsDir: string;
}

export function layoutFor(root: string): LocalLayout {
  if (typeof root !== 'string' || !path.isAbsolute(root)) {
    throw new TypeError('LocalAdapter: root must be an absolute directory path');
  }
  const normalised = path.resolve(root);
  const reservedDir = path.join(normalised, RESERVED_DIR);
  return {
    root: normalised,
    reservedDir,
    metaDir: path.join(reservedDir, 'meta'),
    tmpDir: path.join(reservedDir, 'tmp'),
    uploadsDir: path.join(reservedDir, 'uploads'),
  };
}

/** True when `child` is strictly below `parent` (both absolute and normalised). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

/** `<root>/a/b` -> "a/b" (always with "/" separators). */
export const relativeKey = (root: string, absolute: string): string =>
  path.relative(root, absolute).split(path.sep).join('/');

/**
 * Absolute path of the file (or, for a folder key, the directory) holding `key`.
 * Validates the key and checks, as defence in depth, that the result is inside `root`.
 */
export function keyToPath(root: string, key: string): string {
  assertValidKey(key);
  const resolved = path.resolve(root, ...keySegments(key));
  if (!isInside(root, resolved)) throw ufsError('InvalidKey', 'key resolves outside the mount root');
  return resolved;
}
