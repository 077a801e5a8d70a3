/**
 * Making a fully written temp file visible as an object, and tidying folders afterwards.
 *
 * Commit order: sidecar first, then rename the data into place. Whatever the crash point,
 * no object is ever visible with the wrong metadata:
 * - crash before the sidecar: nothing changed (the temp file is swept later),
 * - crash between sidecar and rename: the old data (if any) no longer matches the new
 *   sidecar's size+mtime, so it is served with synthetic metadata; the new data never
 *   appeared,
 * - after the rename: the new data and its sidecar match.
 * Readers racing the commit can see the second case for the duration of one rename.
 */
import { lstat, rename, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { ufsError } from '../errors';
import { ensureContainedDirectory } from './containment';
import { errnoCode, isConflict, isMissing, mapFsError } from './fs-errors';
import { isFolderKey } from '../shared/key-path';
import type { LocalContext } from './local-context';
import { isInside, keyToPath, relativeKey } from './local-layout';
import { readSidecar, removeSidecar, writeSidecar, type SidecarRecord } from './sidecar-metadata';
import { releaseTemp } from './temp-files';

const conflict = (cause?: unknown) =>
  ufsError('PathConflict', 'a folder with this name already holds other objects (a file system cannot hold both)', cause);

/** An empty, non-marker directory where a file must go is removed; anything else conflicts. */
async function clearDirectoryInTheWay(ctx: LocalContext, key: string, destination: string): Promise<void> {
  try {
    if (!(await lstat(destination)).isDirectory()) return;
  } catch (err) {
    if (isMissing(err)) return;
    throw mapFsError(err, 'write object', 'Unavailable');
  }
  if (await readSidecar(ctx.layout, `${key}/`)) throw conflict();
  try {
    await rmdir(destination);
  } catch (err) {
    if (isMissing(err)) return;
    if (isConflict(err)) throw conflict(err);
    throw mapFsError(err, 'write object', 'Unavailable');
  }
}

const RENAME_RETRIES = 3;

/**
 * Commits the fsynced temp file `tempPath` as `key` with `record` as its sidecar. On
 * failure the temp file is left for the caller to remove.
 */
export async function commitFile(ctx: LocalContext, key: string, tempPath: string, record: SidecarRecord): Promise<void> {
  const destination = keyToPath(ctx.layout.root, key);
  await ctx.locks.run(key, async () => {
    for (let attempt = 0; ; attempt++) {
      await ensureContainedDirectory(ctx, path.dirname(destination));
      await clearDirectoryInTheWay(ctx, key, destination);
      await writeSidecar(ctx.layout, key, record);
      try {
        await rename(tempPath, destination);
        releaseTemp(tempPath);
        return;
      } catch (err) {
        // ENOENT: a concurrent delete pruned the (empty) parent folder; recreate it.
        if (errnoCode(err) === 'ENOENT' && attempt < RENAME_RETRIES) continue;
        await removeSidecar(ctx.layout, key).catch(() => undefined);
        if (isConflict(err)) throw conflict(err);
        throw mapFsError(err, 'commit object', 'Unavailable');
      }
    }
  });
}

const isMarkerDir = async (ctx: LocalContext, dir: string): Promise<boolean> =>
  (await readSidecar(ctx.layout, `${relativeKey(ctx.layout.root, dir)}/`)) !== undefined;

/**
 * Removes empty folders from `dir` up to (not including) the root, stopping at the first
 * non-empty folder or explicit folder marker.
 */
export async function pruneEmptyDataFolders(ctx: LocalContext, dir: string): Promise<void> {
  const { root } = ctx.layout;
  for (let current = dir; isInside(root, current); current = path.dirname(current)) {
    if (await isMarkerDir(ctx, current)) return;
    try {
      await rmdir(current);
    } catch {
      return;
    }
    // A marker created concurrently (sidecar first, then mkdir) must keep its folder.
    if (await isMarkerDir(ctx, current)) {
      await ensureContainedDirectory(ctx, current).catch(() => undefined);
      return;
    }
  }
}

/** Removes empty sidecar folders from `dir` up to (not including) the meta root. */
export async function pruneEmptyMetaFolders(ctx: LocalContext, dir: string): Promise<void> {
  const { metaDir } = ctx.layout;
  for (let current = dir; isInside(metaDir, current); current = path.dirname(current)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
  }
}

/** The folder holding the sidecar of `key` (the marker's own folder for "dir/"). */
export const sidecarFolderOf = (ctx: LocalContext, key: string): string =>
  isFolderKey(key)
    ? path.join(ctx.layout.metaDir, ...key.slice(0, -1).split('/'))
    : path.dirname(path.join(ctx.layout.metaDir, ...key.split('/')));
