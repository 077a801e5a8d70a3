/**
 * Symlink containment. Keys are validated lexically (key-path.ts); these checks make sure
 * symlinks planted by NFS users cannot lead reads, writes or deletes outside the root or
 * into the reserved folder. (A symlink swapped in between the check and the use is not
 * covered: POSIX offers no portable openat2(RESOLVE_BENEATH) from Node.)
 */
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ufsError } from '../errors';
import { errnoCode, isConflict, isMissing, mapFsError } from './fs-errors';
import { keySegments } from '../shared/key-path';
import type { LocalContext } from './local-context';
import { RESERVED_DIR } from '../shared/key-path';
import { isInside } from './local-layout';
import { mkdirBelowRoot } from './mount-root';

function isUserArea(realRoot: string, real: string): boolean {
  const reserved = path.join(realRoot, RESERVED_DIR);
  return isInside(realRoot, real) && real !== reserved && !isInside(reserved, real);
}

/**
 * Real path of `target` when it exists and resolves inside the root's user area;
 * undefined when it is missing or resolves elsewhere (callers treat both as NotFound).
 */
export async function containedRealPath(ctx: LocalContext, target: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await realpath(target);
  } catch (err) {
    if (isMissing(err) || errnoCode(err) === 'ELOOP') return undefined;
    throw mapFsError(err, 'resolve object');
  }
  return isUserArea(await ctx.realRoot(), real) ? real : undefined;
}

/** The folder `dirKey` ("" = root) exists and is reached without crossing any symlink. */
export async function isPlainDirectory(ctx: LocalContext, dirKey: string): Promise<boolean> {
  const segments = dirKey === '' ? [] : keySegments(dirKey);
  try {
    const root = await ctx.realRoot();
    const real = await realpath(path.join(ctx.layout.root, ...segments));
    if (real !== path.join(root, ...segments)) return false;
    return (await stat(real)).isDirectory();
  } catch (err) {
    if (isMissing(err)) return false;
    throw mapFsError(err, 'list objects');
  }
}

/**
 * mkdir -p `dir` for a write (never the root itself: Unavailable while it is missing), refusing
 * files in the way (PathConflict) and symlinks that lead out of the root's user area (Denied).
 */
export async function ensureContainedDirectory(ctx: LocalContext, dir: string): Promise<void> {
  try {
    await mkdirBelowRoot(ctx.layout.root, dir);
  } catch (err) {
    if (isConflict(err)) throw ufsError('PathConflict', 'a parent folder of the key is an existing object', err);
    throw mapFsError(err, 'create parent folder', 'Unavailable');
  }
  if (dir === ctx.layout.root) return;
  const real = await containedRealPath(ctx, dir);
  if (real === undefined) throw ufsError('Denied', 'the key crosses a symbolic link that leads outside the mount');
}

/**
 * For deletes: true when the parent folder of `target` exists and really is inside the
 * root (so unlinking `target` cannot touch anything outside).
 */
export async function parentIsContained(ctx: LocalContext, target: string): Promise<boolean> {
  const parent = path.dirname(target);
  if (parent === ctx.layout.root) return true;
  return (await containedRealPath(ctx, parent)) !== undefined;
}
