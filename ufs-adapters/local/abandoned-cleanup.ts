/**
 * Housekeeping: aborts multipart uploads initiated too long ago and removes temp files
 * left behind by crashes (a temp file still being written keeps a fresh mtime).
 */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { errnoCode, mapFsError } from './fs-errors';
import { layoutFor, type LocalLayout } from './local-layout';
import { readUploadRecord, removeUploadDir, uploadDirOf, uploadIds } from './local-multipart';
import { removeQuietly } from './temp-files';

/** Upload start time from upload.json, else the folder's mtime (upload.json never written). */
async function uploadStartMs(layout: LocalLayout, uploadId: string): Promise<number | undefined> {
  const record = await readUploadRecord(layout, uploadId).catch(() => undefined);
  if (record) return record.initiated.getTime();
  const stats = await lstat(uploadDirOf(layout, uploadId)).catch(() => undefined);
  return stats?.mtimeMs;
}

async function removeStaleTempFiles(layout: LocalLayout, cutoffMs: number): Promise<number> {
  let names: string[];
  try {
    names = await readdir(layout.tmpDir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw mapFsError(err, 'clean temporary files', 'Unavailable');
  }
  let removed = 0;
  for (const name of names) {
    const target = path.join(layout.tmpDir, name);
    const stats = await lstat(target).catch(() => undefined);
    if (stats && stats.mtimeMs < cutoffMs) {
      await removeQuietly(target);
      removed++;
    }
  }
  return removed;
}

/**
 * Removes uploads initiated more than `olderThanMs` ago and temp files not modified for
 * that long, under the mount `root`. Returns how many uploads and temp files were removed.
 */
export async function cleanupAbandonedUploads(root: string, olderThanMs: number): Promise<number> {
  const layout = layoutFor(root);
  const cutoffMs = Date.now() - olderThanMs;
  let removed = 0;
  for (const uploadId of await uploadIds(layout)) {
    const startedMs = await uploadStartMs(layout, uploadId);
    if (startedMs !== undefined && startedMs < cutoffMs) {
      await removeUploadDir(uploadDirOf(layout, uploadId));
      removed++;
    }
  }
  return removed + (await removeStaleTempFiles(layout, cutoffMs));
}
