/**
 * Committing a written temp file as an object: its metadata record (an xattr), then a rename
 * over the key with rename2 + OVERWRITE (RENAME&renameoptions=OVERWRITE), which replaces an
 * existing file atomically, so data and metadata become visible together. Servers that ignore
 * `renameoptions` get DELETE + RENAME: the key is briefly missing. Folder markers are
 * directories carrying a record.
 */
import { isUfsError, ufsError } from '../errors';
import type { ObjectMetadata, WriteResult } from '../types';
import type { HdfsContext } from './hdfs-context';
import { WebHdfsError, hdfsError, isRemote } from './hdfs-errors';
import { joinPath, parentOf, pathOfKey } from './hdfs-layout';
import { META_XATTR, buildRecord, encodeRecord, type ObjectRecord } from './hdfs-metadata';
import { EMPTY_MD5_ETAG } from '../object-metadata';
import { isMissing, recordOf, statusOf } from './hdfs-object';
import type { FileStatus } from './webhdfs-client';

const RETRIES = 3;

/** A folder of the key's name holds objects: the key cannot be a file. */
export const conflict = (cause?: unknown) =>
  ufsError('PathConflict', 'a folder with this name already holds other objects (HDFS cannot hold a file and a folder of the same name)', cause);

/** Writes the metadata record of `hdfsPath`. */
export async function setRecord(ctx: HdfsContext, hdfsPath: string, record: ObjectRecord, flag: 'CREATE' | 'CREATE,REPLACE', signal?: AbortSignal): Promise<void> {
  await ctx.client.setXAttr(hdfsPath, META_XATTR, encodeRecord(record), flag, signal);
}

/** An empty directory that is not a folder marker is removed; anything else in the way conflicts. */
async function clearDirectoryInTheWay(ctx: HdfsContext, dest: string, status: FileStatus, signal?: AbortSignal): Promise<void> {
  await ctx.locks.run(`dir:${dest}`, async () => {
    if ((status.childrenNum ?? 0) > 0 || (await recordOf(ctx, dest, signal))) throw conflict();
    try {
      await ctx.client.delete(dest, false, signal);
    } catch (err) {
      if (isMissing(err)) return;
      if (isRemote(err, 'PathIsNotEmptyDirectoryException')) throw conflict(err);
      throw hdfsError(err, 'write object');
    }
  });
}

/** Creates the parent folders of `dest`; PathConflict when one of them is a file. `operation` names a failure. */
export async function ensureParent(ctx: HdfsContext, dest: string, signal?: AbortSignal, operation = 'create parent folder'): Promise<void> {
  try {
    await ctx.client.mkdirs(parentOf(dest), signal);
  } catch (err) {
    if (isRemote(err, 'FileAlreadyExistsException', 'ParentNotDirectoryException')) {
      throw ufsError('PathConflict', 'a parent folder of the key is an existing object', err);
    }
    throw hdfsError(err, operation);
  }
}

/** Signals the retry loop that a plain RENAME answered false. */
const renameRefused = (): WebHdfsError => new WebHdfsError('RENAME', 200, 'FileNotFoundException', undefined, 'rename returned false');

/** The old RENAME cannot replace: delete what is there first, then rename (briefly no object). */
async function legacyReplace(ctx: HdfsContext, tempPath: string, dest: string, signal?: AbortSignal): Promise<void> {
  const existing = await statusOf(ctx, dest, signal);
  if (existing?.type === 'DIRECTORY') {
    await clearDirectoryInTheWay(ctx, dest, existing, signal);
  } else if (existing) {
    await ctx.client.delete(dest, false, signal).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }
  if (!(await ctx.client.rename(tempPath, dest, undefined, signal))) throw renameRefused();
  // The old rename moves a file *into* a directory that appeared meanwhile: undo that.
  const landed = await statusOf(ctx, dest, signal);
  if (landed?.type === 'DIRECTORY') {
    const inside = joinPath(dest, tempPath.slice(tempPath.lastIndexOf('/') + 1));
    await ctx.client.rename(inside, tempPath, undefined, signal).catch(() => undefined);
    throw conflict();
  }
}

/**
 * Makes the fully written temp file `tempPath` the object `key` (its record already set).
 * On failure the temp file is left for the caller to delete.
 */
export async function commitFile(ctx: HdfsContext, key: string, tempPath: string, signal?: AbortSignal): Promise<void> {
  const dest = pathOfKey(ctx.layout, key);
  const mode = await ctx.renameMode(signal);
  await ctx.locks.run(key, async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        if (mode === 'rename2') await ctx.client.rename(tempPath, dest, 'OVERWRITE', signal);
        else await legacyReplace(ctx, tempPath, dest, signal);
        return;
      } catch (err) {
        if (isUfsError(err) || attempt >= RETRIES) throw hdfsError(err, 'commit object', { FileNotFoundException: 'Unavailable' });
        if (isRemote(err, 'ParentNotDirectoryException')) throw ufsError('PathConflict', 'a parent folder of the key is an existing object', err);
        if (isRemote(err, 'FileNotFoundException')) {
          // The parent folder does not exist (yet, or again after a concurrent prune).
          await ensureParent(ctx, dest, signal);
          continue;
        }
        const existing = await statusOf(ctx, dest, signal);
        if (existing?.type !== 'DIRECTORY') throw hdfsError(err, 'commit object');
        await clearDirectoryInTheWay(ctx, dest, existing, signal);
      }
    }
  });
}

/** Creates (or re-marks) the folder `key` ("dir/"): a directory carrying a marker record. */
export async function commitFolderMarker(ctx: HdfsContext, key: string, metadata: ObjectMetadata, signal?: AbortSignal): Promise<WriteResult> {
  const dir = pathOfKey(ctx.layout, key);
  const lastModified = new Date();
  const record = buildRecord(metadata, { etag: EMPTY_MD5_ETAG, size: 0, mtime: lastModified.getTime() });
  await ctx.locks.run(`dir:${dir}`, async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await ctx.client.mkdirs(dir, signal);
        await setRecord(ctx, dir, record, 'CREATE,REPLACE', signal);
        return;
      } catch (err) {
        if (isRemote(err, 'FileAlreadyExistsException', 'ParentNotDirectoryException')) {
          throw ufsError('PathConflict', 'an object with this name (without the trailing /) or a parent of it exists', err);
        }
        // Removed by a concurrent prune (another process) between MKDIRS and SETXATTR.
        if (isRemote(err, 'FileNotFoundException') && attempt < RETRIES) continue;
        throw hdfsError(err, 'create folder', { FileNotFoundException: 'Unavailable' });
      }
    }
  });
  return { etag: EMPTY_MD5_ETAG, size: 0, lastModified };
}
