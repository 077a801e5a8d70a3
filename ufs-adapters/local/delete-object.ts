/**
 * DELETE: missing keys are not an error. Deleting a file removes its sidecar and the
 * folders that became empty (up to the root, stopping at explicit folder markers).
 * Deleting a folder marker removes its sidecar and the folder only if it is empty.
 */
import { lstat, rmdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { pruneEmptyDataFolders, pruneEmptyMetaFolders, sidecarFolderOf } from './commit-object';
import { parentIsContained } from './containment';
import { errnoCode, isMissing, mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { isFolderKey } from '../shared/key-path';
import { keyToPath } from './local-layout';
import type { LocalContext } from './local-context';
import { removeSidecar } from './sidecar-metadata';

async function deleteFolderMarker(ctx: LocalContext, key: string, dir: string): Promise<void> {
  await removeSidecar(ctx.layout, key);
  await pruneEmptyMetaFolders(ctx, sidecarFolderOf(ctx, key));
  const stats = await lstat(dir).catch(() => undefined);
  if (!stats?.isDirectory()) return;
  try {
    await rmdir(dir);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOTEMPTY' || code === 'EEXIST' || isMissing(err)) return;
    throw mapFsError(err, 'delete folder', 'Unavailable');
  }
  await pruneEmptyDataFolders(ctx, path.dirname(dir));
}

async function deleteFile(ctx: LocalContext, key: string, file: string): Promise<void> {
  const stats = await lstat(file).catch((err: unknown) => {
    if (isMissing(err)) return undefined;
    throw mapFsError(err, 'delete object', 'Unavailable');
  });
  // A directory named like the key is not this object (it may hold "key/..." objects).
  if (stats && !stats.isDirectory()) {
    try {
      await unlink(file);
    } catch (err) {
      if (!isMissing(err)) throw mapFsError(err, 'delete object', 'Unavailable');
    }
  }
  await removeSidecar(ctx.layout, key);
  await pruneEmptyMetaFolders(ctx, sidecarFolderOf(ctx, key));
  if (stats && !stats.isDirectory()) await pruneEmptyDataFolders(ctx, path.dirname(file));
}

export async function deleteObject(ctx: LocalContext, key: string, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const target = keyToPath(ctx.layout.root, key);
  // Deleting from a store that is not there succeeds at nothing: Unavailable, not 204.
  await ctx.assertRoot();
  // Never unlink through a symlinked parent that leads outside the root.
  if (!(await parentIsContained(ctx, target))) return;
  await ctx.locks.run(key, () => (isFolderKey(key) ? deleteFolderMarker(ctx, key, target) : deleteFile(ctx, key, target)));
}
