/** DELETE, and the empty folders a removed object leaves behind (S3 has no folders to keep). */
import type { HdfsContext } from './hdfs-context';
import { hdfsError, isRemote } from './hdfs-errors';
import { throwIfAborted } from '../shared/abort';
import { isFolderKey, parentOf, pathOfKey } from './hdfs-layout';
import { META_XATTR } from './hdfs-metadata';
import { isMissing, recordOf, statusOf, xattrsOf } from './hdfs-object';

const isStrictlyInside = (root: string, hdfsPath: string): boolean => hdfsPath !== root && hdfsPath.startsWith(root === '/' ? '/' : `${root}/`);

/**
 * Removes empty folders from `dir` up to (not including) the root, stopping at the first
 * non-empty folder or folder marker (S3 has no folders to keep).
 */
async function pruneEmptyFolders(ctx: HdfsContext, dir: string, signal?: AbortSignal): Promise<void> {
  for (let current = dir; isStrictlyInside(ctx.layout.root, current); current = parentOf(current)) {
    const removed = await ctx.locks
      .run(`dir:${current}`, async () => {
        const status = await statusOf(ctx, current, signal);
        if (status?.type !== 'DIRECTORY' || (status.childrenNum ?? 0) > 0) return false;
        if (await recordOf(ctx, current, signal)) return false;
        return ctx.client.delete(current, false, signal);
      })
      .catch(() => false);
    if (!removed) return;
  }
}

async function deleteFolderMarker(ctx: HdfsContext, dir: string, signal?: AbortSignal): Promise<void> {
  const removed = await ctx.locks.run(`dir:${dir}`, async () => {
    const status = await statusOf(ctx, dir, signal);
    if (status?.type !== 'DIRECTORY') return false;
    if ((await xattrsOf(ctx, dir, signal))?.has(META_XATTR)) {
      await ctx.client.removeXAttr(dir, META_XATTR, signal).catch(async (err: unknown) => {
        if (isMissing(err)) return;
        if ((await xattrsOf(ctx, dir, signal))?.has(META_XATTR)) throw hdfsError(err, 'delete folder');
      });
    }
    if ((status.childrenNum ?? 0) > 0) return false;
    return ctx.client.delete(dir, false, signal).catch((err: unknown) => {
      if (isMissing(err) || isRemote(err, 'PathIsNotEmptyDirectoryException')) return false;
      throw hdfsError(err, 'delete folder');
    });
  });
  if (removed) await pruneEmptyFolders(ctx, parentOf(dir), signal);
}

/** DELETE: missing keys are not an error; a folder named like a file key is not that object. */
export async function deleteObject(ctx: HdfsContext, key: string, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const target = pathOfKey(ctx.layout, key);
  if (isFolderKey(key)) return deleteFolderMarker(ctx, target, signal);
  const removed = await ctx.locks.run(key, async () => {
    const status = await statusOf(ctx, target, signal);
    if (status?.type !== 'FILE') return false;
    try {
      return await ctx.client.delete(target, false, signal);
    } catch (err) {
      if (isMissing(err)) return false;
      throw hdfsError(err, 'delete object');
    }
  });
  if (removed) await pruneEmptyFolders(ctx, parentOf(target), signal);
}
