/**
 * CopyObject inside one mount: fs.copyFile with COPYFILE_FICLONE into a temp file (a
 * reflink on btrfs/XFS/APFS-like file systems, a byte copy elsewhere), then the usual
 * commit. The destination keeps the source's ETag (also for multipart sources).
 */
import { constants } from 'node:fs';
import { copyFile, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { Readable } from 'node:stream';
import { ufsError } from '../errors';
import { copyDestinationMetadata } from '../object-metadata';
import type { CopyRequest, ObjectInfo, ObjectMetadata, WriteResult } from '../types';
import { commitFile } from './commit-object';
import { mapFsError } from './fs-errors';
import { throwIfAborted } from '../shared/abort';
import { assertValidKey, isFolderKey } from '../shared/key-path';
import type { LocalContext } from './local-context';
import { resolveDataFile, statObject } from './read-object';
import { buildSidecar, fileObjectInfo, readSidecar, writeSidecar, type SidecarRecord } from './sidecar-metadata';
import { newTempPath, removeQuietly } from './temp-files';
import { mkdirBelowRoot } from './mount-root';
import { writeObject } from './write-object';

const sameFile = (a: Stats, b: Stats): boolean => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;

/** Copies the source bytes into a fresh, fsynced temp file; retried if the source changes meanwhile. */
async function cloneToTemp(ctx: LocalContext, sourceKey: string, signal?: AbortSignal): Promise<{ tempPath: string; stats: Stats; before: Stats }> {
  await mkdirBelowRoot(ctx.layout.root, ctx.layout.tmpDir).catch((err: unknown) => {
    throw mapFsError(err, 'prepare copy', 'Unavailable');
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    const { realPath, stats: before } = await resolveDataFile(ctx, sourceKey);
    const tempPath = newTempPath(ctx.layout.tmpDir, 'copy');
    try {
      await copyFile(realPath, tempPath, constants.COPYFILE_FICLONE | constants.COPYFILE_EXCL);
      const handle = await open(tempPath, 'r+');
      let stats: Stats;
      try {
        await handle.sync();
        stats = await handle.stat();
      } finally {
        await handle.close();
      }
      throwIfAborted(signal);
      if (sameFile(before, await stat(realPath))) return { tempPath, stats, before };
    } catch (err) {
      await removeQuietly(tempPath);
      throw mapFsError(err, 'copy object', 'NotFound');
    }
    await removeQuietly(tempPath);
  }
  throw ufsError('Unavailable', 'the source object kept changing during the copy');
}

/** Copies involving folder markers are copies of an empty object. */
async function copyEmptyObject(ctx: LocalContext, request: CopyRequest, source: ObjectMetadata & { size: number }): Promise<WriteResult> {
  if (source.size !== 0) throw ufsError('InvalidKey', "a folder key (ending in '/') must have an empty body");
  return writeObject(ctx, { key: request.destinationKey, body: Readable.from([]), metadata: request.metadata ?? source, signal: request.signal });
}

/** Metadata for the destination: the replacement if given (keeping content checksums), else the source's. */
const destinationMetadata = copyDestinationMetadata;

/** The destination's sidecar and the copy's answer: the source's ETag and part sizes, the size and mtime of the destination's data file. */
function copied(request: CopyRequest, source: ObjectInfo, stats: Stats): { record: SidecarRecord; result: WriteResult } {
  const record = buildSidecar(destinationMetadata(request, source), { etag: source.etag, partSizes: source.partSizes, size: stats.size, mtimeMs: stats.mtimeMs });
  return { record, result: { etag: source.etag, size: stats.size, lastModified: new Date(stats.mtimeMs) } };
}

export async function copyObject(ctx: LocalContext, request: CopyRequest): Promise<WriteResult> {
  const { sourceKey, destinationKey, signal } = request;
  assertValidKey(sourceKey);
  assertValidKey(destinationKey);
  throwIfAborted(signal);
  if (isFolderKey(sourceKey) || isFolderKey(destinationKey)) {
    return copyEmptyObject(ctx, request, await statObject(ctx, sourceKey, signal));
  }

  if (sourceKey === destinationKey) {
    // Metadata-only change: rewrite the sidecar for the unchanged data file.
    return ctx.locks.run(destinationKey, async () => {
      const { stats } = await resolveDataFile(ctx, sourceKey);
      const { record, result } = copied(request, fileObjectInfo(sourceKey, stats, await readSidecar(ctx.layout, sourceKey)), stats);
      await writeSidecar(ctx.layout, destinationKey, record);
      return result;
    });
  }

  const { tempPath, stats, before } = await cloneToTemp(ctx, sourceKey, signal);
  try {
    // `before` is the source as it was copied (unchanged during the copy): judge its sidecar against it.
    const { record, result } = copied(request, fileObjectInfo(sourceKey, before, await readSidecar(ctx.layout, sourceKey)), stats);
    await commitFile(ctx, destinationKey, tempPath, record);
    return result;
  } catch (err) {
    await removeQuietly(tempPath);
    throw err;
  }
}
